"""Encryption at rest as a decorator over any raw blob store.

Invariants:

* Every blob of user content (``put``) is age-encrypted to the server's
  storage identity while it streams, so the raw store (a disk, a bucket, a
  backup of either) only ever holds ciphertext; a copied instance folder or
  bucket reveals nothing without the configured secret.
* Sealed bundles (``put_raw``) are already age-encrypted to their recipient
  and are stored as they are.
* A ``put`` whose source or store fails midway stores nothing under the key:
  the raw store's writer commits only on success, and the key is deleted
  again for good measure. The error raised is the real one (the source's own,
  ``StorageFull``, ``StorageUnavailable``), not pyrage's wrapper.

Threat assumptions: whoever reads the raw store does not hold the storage
identity (it lives in the instance secrets, not in the store).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import BinaryIO

import pyrage

from exchange.adapters.blobstores.guards import GuardedSink, GuardedSource, first_failure
from exchange.adapters.blobstores.keys import checked_key, new_key
from exchange.domain.errors import StorageUnavailable
from exchange.ports import BlobSink, RawBlobStore, StoreCheck

_COPY_CHUNK = 1 << 20


class EncryptedBlobStore:
    def __init__(self, raw: RawBlobStore, storage_identity: str) -> None:
        self.raw = raw
        self._identity = pyrage.x25519.Identity.from_str(storage_identity.strip())
        self._recipient = self._identity.to_public()

    @property
    def backend(self) -> str:
        return self.raw.backend

    def new_key(self, kind: str) -> str:
        return new_key(kind)

    def put(self, key: str, source: BinaryIO) -> int:
        checked_key(key)
        guarded_source = GuardedSource(source)
        sink: BlobSink | None = None
        try:
            with self.raw.writer(key) as opened:
                sink = opened
                pyrage.encrypt_io(guarded_source, opened, [self._recipient])
        except Exception as exc:
            real = first_failure(guarded_source, sink) or exc
            self._discard(key, real)
            if real is not exc:
                raise real from None
            raise
        return opened.written

    def get_to(self, key: str, target: BinaryIO) -> None:
        guarded_target = GuardedSink(target.write)
        with self.raw.reader(key) as sealed:
            guarded_sealed = GuardedSource(sealed)
            try:
                pyrage.decrypt_io(guarded_sealed, guarded_target, [self._identity])
            except pyrage.DecryptError:
                real = first_failure(guarded_sealed, guarded_target)
                if real is not None:
                    raise real from None
                raise

    def put_raw(self, key: str, source: BinaryIO) -> int:
        try:
            with self.raw.writer(key) as out:
                while chunk := source.read(_COPY_CHUNK):
                    out.write(chunk)
        except Exception as exc:
            self._discard(key, exc)
            raise
        return out.written

    def raw_chunks(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        return self.raw.chunks(key, chunk_size)

    def delete(self, key: str) -> None:
        self.raw.delete(key)

    def exists(self, key: str) -> bool:
        return self.raw.exists(key)

    def check(self) -> StoreCheck:
        return self.raw.check()

    def _discard(self, key: str, cause: BaseException) -> None:
        # The writer never committed; this only guards against a store whose
        # commit failed after the object became visible. During an outage a
        # delete would only fail again after its own retries, so it is skipped
        # (at worst an orphaned ciphertext, never a blob counted as stored).
        if isinstance(cause, StorageUnavailable):
            return
        with suppress(StorageUnavailable, OSError):
            self.raw.delete(key)
