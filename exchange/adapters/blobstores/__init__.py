"""Blob stores behind the ``BlobStore`` port: raw stores, and encryption at rest over them.

``EXCHANGE_BLOB_URL`` picks the raw store: ``file:///absolute/dir`` (the
embedded default, ``<instance>/blobs``) or ``s3://bucket/prefix`` with the
endpoint and credentials of ``Settings.s3``. Whatever the raw store,
services get an ``EncryptedBlobStore`` over it, so the raw store only ever
holds ciphertext.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from exchange.adapters.blobstores.encrypted import EncryptedBlobStore
from exchange.adapters.blobstores.filesystem import FilesystemRawStore
from exchange.adapters.blobstores.keys import BlobKeyError, new_key
from exchange.settings import ConfigurationError

if TYPE_CHECKING:
    from exchange.ports import RawBlobStore
    from exchange.settings import Settings

__all__ = [
    "BlobKeyError",
    "EncryptedBlobStore",
    "FilesystemRawStore",
    "blob_store",
    "new_key",
    "raw_blob_store",
]


def raw_blob_store(settings: Settings) -> RawBlobStore:
    url = settings.blob_url or f"file://{settings.blob_root}"
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise ConfigurationError("EXCHANGE_BLOB_URL: a file URL names an absolute path, file:///dir")
        return FilesystemRawStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigurationError("EXCHANGE_BLOB_URL: an S3 URL names a bucket, s3://bucket/prefix")
        # Imported here so a filesystem deployment never loads boto3.
        from exchange.adapters.blobstores.s3 import S3RawStore  # noqa: PLC0415

        return S3RawStore(parts.netloc, unquote(parts.path), settings.s3)
    raise ConfigurationError("EXCHANGE_BLOB_URL must start with file:/// or s3://")


def blob_store(settings: Settings) -> EncryptedBlobStore:
    """The store services use: age encryption at rest over the configured raw store."""
    return EncryptedBlobStore(raw_blob_store(settings), settings.storage_identity)
