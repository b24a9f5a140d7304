"""Compatibility names for code written before the raw/encrypted split.

New code gets its store from ``exchange.wiring`` (or builds one with
``exchange.adapters.blobstores``); this module only keeps old imports working.
"""

from __future__ import annotations

from pathlib import Path

from exchange.adapters.blobstores import BlobKeyError, EncryptedBlobStore, FilesystemRawStore

__all__ = ["BlobKeyError", "FilesystemBlobStore"]


def FilesystemBlobStore(root: Path, storage_identity: str) -> EncryptedBlobStore:  # noqa: N802 - the old class name
    """The encrypted store over a directory, as the former class of this name was."""
    return EncryptedBlobStore(FilesystemRawStore(root), storage_identity)
