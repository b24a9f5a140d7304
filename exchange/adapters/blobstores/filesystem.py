"""The raw blob store on a local (or mounted) filesystem: the embedded default.

Invariants:

* Paths come only from server-made keys (``keys.checked_key``) and are
  checked, after resolving, to stay inside the store root: no key reaches a
  file outside it.
* A blob is written to a temporary file in its final directory, flushed,
  fsynced, and renamed over its name; the directory is fsynced after the
  rename. A full disk, a quota or a crash mid-write leaves at most a
  ``.incoming-*`` file, never a half-written blob under a key.
* ``ENOSPC``, ``EDQUOT``, ``EROFS`` and ``EFBIG`` become ``StorageFull``
  (507), any other ``OSError`` becomes ``StorageUnavailable`` (503), each with
  a one-line reason that names no path. A missing blob stays
  ``FileNotFoundError``.

The layout (``<root>/<kind>/<xx>/<32 hex>``) is the one earlier releases
wrote, so existing instance folders stay readable.
"""

from __future__ import annotations

import errno
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from exchange.adapters.blobstores.guards import GuardedSink, same_bytes
from exchange.adapters.blobstores.keys import BlobKeyError, checked_key
from exchange.domain.errors import StorageFull, StorageUnavailable
from exchange.ports import StoreCheck

_FULL = {
    errno.ENOSPC: "the blob store's disk is full",
    errno.EDQUOT: "the blob store's disk quota is exhausted",
    errno.EROFS: "the blob store is on a read-only filesystem",
    errno.EFBIG: "the blob store refused a file this large",
}
_BUFFER = 1 << 20


def storage_error(exc: BaseException) -> BaseException:
    """The domain error for an ``OSError`` of the store (others pass through unchanged)."""
    return translate_os_error(exc) if isinstance(exc, OSError) else exc


def translate_os_error(exc: OSError) -> StorageUnavailable:
    if exc.errno in _FULL:
        return StorageFull(f"{_FULL[exc.errno]}; nothing was stored")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StorageUnavailable("the blob store refused access (permissions); nothing was stored")
    reason = os.strerror(exc.errno).lower() if exc.errno else "an I/O error"
    return StorageUnavailable(f"the blob store failed ({reason})")


class FilesystemRawStore:
    backend = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # A read-only or missing mount must not stop the app from starting;
            # writes and the readiness check report it.
            self._startup_error: StorageUnavailable | None = translate_os_error(exc)
        else:
            self._startup_error = None

    def _path(self, key: str) -> Path:
        path = (self.root / checked_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise BlobKeyError("blob key escapes the store root")
        return path

    @contextmanager
    def writer(self, key: str) -> Iterator[GuardedSink]:
        yield from self._write_to(self._path(key))

    def _write_to(self, path: Path) -> Iterator[GuardedSink]:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        except OSError as exc:
            raise translate_os_error(exc) from exc
        try:
            with os.fdopen(fd, "wb", buffering=_BUFFER) as handle:
                sink = GuardedSink(handle.write, storage_error)
                yield sink
                sink.raise_failure()
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except OSError as exc:
            Path(tmp_name).unlink(missing_ok=True)
            raise translate_os_error(exc) from exc
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        self._sync_directory(path.parent)

    @staticmethod
    def _sync_directory(directory: Path) -> None:
        # Without it a power cut can lose the rename although the data were fsynced.
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # some filesystems (network mounts) refuse fsync on directories
        finally:
            os.close(fd)

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        handle = self._open(self._path(key))
        with handle:
            yield handle

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise FileNotFoundError("no blob under this key") from None
        except OSError as exc:
            raise translate_os_error(exc) from exc

    def chunks(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        # Opened here, not in the generator, so a missing or unreadable blob
        # fails before a response starts streaming.
        return self._iterate(self._open(self._path(key)), chunk_size)

    @staticmethod
    def _iterate(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with handle:
            try:
                while chunk := handle.read(chunk_size):
                    yield chunk
            except OSError as exc:
                raise translate_os_error(exc) from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise translate_os_error(exc) from exc

    def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            return path.is_file()
        except OSError as exc:
            raise translate_os_error(exc) from exc

    def check(self) -> StoreCheck:
        started = time.perf_counter()
        probe = self.root / f".probe-{secrets.token_hex(8)}"
        payload = secrets.token_bytes(16)
        try:
            if self._startup_error is not None and not self.root.is_dir():
                raise self._startup_error
            with contextmanager(self._write_to)(probe) as sink:
                sink.write(payload)
            same_bytes(probe.read_bytes(), payload)
            probe.unlink()
        except (OSError, StorageUnavailable) as exc:
            error = translate_os_error(exc) if isinstance(exc, OSError) else exc
            return StoreCheck(self.backend, False, _ms(started), error.message, error.status)
        return StoreCheck(self.backend, True, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
