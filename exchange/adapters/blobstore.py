"""Blob stores: local files by default, behind the ``BlobStore`` port.

Every blob of user content is encrypted at rest with age to the server's
storage identity, so a copied instance folder or bucket reveals nothing
without the configured secret. Sealed bundles are stored as they are (they
are already age-encrypted to their recipient).

Paths are derived only from server-generated keys and are checked to stay
inside the store root.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pyrage

_KEY = re.compile(r"^[a-z]{2,16}/[0-9a-f]{2}/[0-9a-f]{32}$")


class BlobKeyError(ValueError):
    pass


class FilesystemBlobStore:
    def __init__(self, root: Path, storage_identity: str) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._identity = pyrage.x25519.Identity.from_str(storage_identity.strip())
        self._recipient = self._identity.to_public()

    def new_key(self, kind: str) -> str:
        token = secrets.token_hex(16)
        return f"{kind}/{token[:2]}/{token}"

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise BlobKeyError("malformed blob key")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise BlobKeyError("blob key escapes the store root")
        return path

    def _write_atomically(self, key: str, writer: Callable[[BinaryIO], None]) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                writer(tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def put(self, key: str, source: BinaryIO) -> int:
        return self._write_atomically(key, lambda out: pyrage.encrypt_io(source, out, [self._recipient]))

    def get_to(self, key: str, target: BinaryIO) -> None:
        with self._path(key).open("rb") as sealed:
            pyrage.decrypt_io(sealed, target, [self._identity])

    def put_raw(self, key: str, source: BinaryIO) -> int:
        def copy(out: BinaryIO) -> None:
            while chunk := source.read(1 << 20):
                out.write(chunk)

        return self._write_atomically(key, copy)

    def raw_chunks(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        with self._path(key).open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
