"""Receiving an uploaded file: authorised, limited, encrypted as it arrives, sniffed, recorded.

Invariants:

* Authorisation and the case's state are checked before the first byte of
  content is read, so a refused caller never makes the server receive or
  store anything.
* Plaintext never touches a disk: the chunks are handed to the blob store,
  which encrypts them at rest as it reads them. The web process holds one
  chunk, the first 8 KiB (for sniffing) and, only for ZIP/CFB containers, a
  few bounded windows of the decrypted blob while their part list is read.
* The size limit is enforced on the bytes actually received, whatever a
  header claimed; passing it stops the read, answers 413 and keeps nothing.
* Any refusal (size, type, name, a broken body, a storage failure) deletes
  the blob before the error leaves this module. A stored blob without a
  CaseFile row exists only between ``put`` and the caller's commit; the
  caller deletes it when its commit fails (``discard``).
* The audit record names the file by id, size, hash and type; the file
  name goes into the access log the applicant reads, never into server logs.

Threat assumptions: the caller is authenticated but may be hostile (huge,
slow, truncated or lying bodies; names with control characters). The blob
store is trusted to encrypt; a container's part list is read with the same
bounded parser the worker uses.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import func, select

from exchange.domain.errors import Forbidden, InvalidInput, TooLarge
from exchange.domain.filetypes import sniff_media_type, upload_name
from exchange.domain.lifecycle import Action
from exchange.models import CaseFile
from exchange.services import audit
from exchange.services.cases import get_case, require_action
from exchange.services.context import ServiceContext

SNIFF_BYTES = 8192
#: Magic numbers whose type shows only inside the container (OOXML parts, CFB streams).
_CONTAINERS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
#: Bytes of the decrypted blob kept at each end while a container is sniffed:
#: a ZIP's central directory sits at the end, CFB's directory near the start.
WINDOW_BYTES = 1 << 20
#: A read outside the windows decrypts the blob once more for a window this large.
MISS_WINDOW_BYTES = 1 << 20
MAX_READBACK_PASSES = 4


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    row: CaseFile
    size: int


class ChunkReader:
    """The file-like reader a blob store encrypts from: counts, limits and keeps the head of ``chunks``.

    The limit is checked as each chunk arrives, before any of it is handed
    on, so a body larger than ``limit`` fails with ``TooLarge(too_large)``
    whatever a header claimed. ``early_sniff`` sees the first
    ``SNIFF_BYTES`` (or the whole body, if shorter) as soon as they are in,
    so a refused type stops the read early. Chunks are handed out through a
    view, so each byte is copied once however small the reads: the encryptor
    reads 8 KiB at a time, and a completed resumable upload arrives here as
    parts of up to 32 MiB.

    Errors raised here are kept in ``error`` because the encryptor wraps
    whatever its reader raises in an exception of its own.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        limit: int,
        too_large: str,
        *,
        early_sniff: Callable[[bytes], None] | None = None,
        hashed: bool = False,
    ) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")
        self._early_sniff = early_sniff
        self._too_large = too_large
        # Hashing is optional: a resumable part is hashed once, as the whole file, when it completes.
        self._digest = hashlib.sha256() if hashed else None
        self.limit = limit
        self.size = 0
        self.head = b""
        self.error: BaseException | None = None

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of all bytes received so far."""
        if self._digest is None:
            raise TypeError("this reader was made without hashed=True")
        return self._digest.hexdigest()

    def _sniff_head(self, final: bool) -> None:
        if self._early_sniff is not None and (final or len(self.head) >= SNIFF_BYTES):
            check, self._early_sniff = self._early_sniff, None
            check(self.head)

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        """At most ``n`` bytes, at most one chunk's worth; all of the current chunk when ``n`` is negative."""
        try:
            return self._read(-1 if n is None else n)
        except BaseException as exc:
            self.error = exc
            raise

    def _read(self, n: int) -> bytes:
        if n == 0:
            return b""
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._sniff_head(final=True)
                return b""
            self.size += len(chunk)
            if self.size > self.limit:
                raise TooLarge(self._too_large)
            if self._digest is not None:
                self._digest.update(chunk)
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[: SNIFF_BYTES - len(self.head)]
            self._pending = memoryview(chunk)
            # The type is decided as soon as the head is in: a refused type stops the upload early.
            self._sniff_head(final=False)
        take = len(self._pending) if n < 0 else min(n, len(self._pending))
        out, self._pending = self._pending[:take], self._pending[take:]
        return out.tobytes()


def check_head(head: bytes, display: str) -> None:
    """Refuse a file by its first bytes, unless its type shows only inside a container.

    A container (ZIP, CFB) is sniffed once it is stored, from its part list.
    """
    if not head.startswith(_CONTAINERS):
        sniff_media_type(head, display)


class _WindowCollector:
    """A write target for decryption that keeps only some byte ranges of the plaintext."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        # A blob smaller than a window has both ends as one range; twice would interleave its bytes.
        self.ranges = list(dict.fromkeys(ranges))
        self.parts: dict[int, bytearray] = {start: bytearray() for start, _ in ranges}
        self.position = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        data = bytes(data)
        end = self.position + len(data)
        for start, stop in self.ranges:
            lo, hi = max(start, self.position), min(stop, end)
            if lo < hi:
                self.parts[start] += data[lo - self.position : hi - self.position]
        self.position = end
        return len(data)

    def flush(self) -> None:
        return None


class BlobWindows(io.RawIOBase):
    """A seekable, read-only view of a stored blob's plaintext that holds only bounded windows.

    Container sniffing (zipfile) seeks to the end for the central directory,
    then to one part's local header. Both ends are kept from one decryption
    pass; a read elsewhere decrypts once more for a window at that offset,
    at most ``MAX_READBACK_PASSES`` times, then reads fail as unreadable.
    """

    def __init__(self, fetch: Callable[[list[tuple[int, int]]], dict[int, bytes]], size: int) -> None:
        super().__init__()
        self._fetch, self._size, self._pos, self._passes = fetch, size, 0, 1
        ranges = [(0, min(size, WINDOW_BYTES)), (max(0, size - WINDOW_BYTES), size)]
        got = fetch(ranges)
        self._windows: list[tuple[int, bytes]] = [(start, got[start]) for start, _ in ranges]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if want == 0:
            return 0
        for start, data in self._windows:
            if start <= self._pos < start + len(data):
                piece = data[self._pos - start : self._pos - start + want]
                view[: len(piece)] = piece
                self._pos += len(piece)
                return len(piece)
        if self._passes >= MAX_READBACK_PASSES:
            raise OSError("the container's layout needs more read-back passes than allowed")
        self._passes += 1
        span = (self._pos, min(self._size, self._pos + max(want, MISS_WINDOW_BYTES)))
        # Only the newest miss window is kept: memory stays at two ends plus one window.
        self._windows = [*self._windows[:2], (span[0], self._fetch([span])[span[0]])]
        return self.readinto(buffer)


def _readback(ctx: ServiceContext, key: str) -> Callable[[list[tuple[int, int]]], dict[int, bytes]]:
    def fetch(ranges: list[tuple[int, int]]) -> dict[int, bytes]:
        collector = _WindowCollector(ranges)
        ctx.blobs.get_to(key, collector)  # type: ignore[arg-type]
        return {start: bytes(data) for start, data in collector.parts.items()}

    return fetch


def authorise(ctx: ServiceContext, case_id: str) -> Any:
    """The case, if the actor may add a file to it now (checked before any byte is read)."""
    return _authorise(ctx, case_id)


def _authorise(ctx: ServiceContext, case_id: str) -> Any:
    actor = ctx.actor
    if actor is None:
        raise Forbidden("sign in first")
    if actor.role != "applicant":
        raise Forbidden("only applicants can do this")
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.UPLOAD)
    count = ctx.session.scalar(select(func.count()).where(CaseFile.case_id == case.id)) or 0
    if count >= ctx.settings.max_files_per_case:
        raise InvalidInput(f"a case holds at most {ctx.settings.max_files_per_case} files")
    return case


def receive_upload(
    ctx: ServiceContext, case_id: str, name: str | None, chunks: Iterable[bytes]
) -> ReceivedFile:
    """Store one uploaded file of ``case_id`` from ``chunks`` (its bytes, as they arrive).

    Returns the new CaseFile (flushed, not committed). On any refusal the
    blob is gone and nothing is added to the session.
    """
    case = _authorise(ctx, case_id)
    display = upload_name(name)

    limit = ctx.settings.max_upload_bytes
    receiver = ChunkReader(
        chunks,
        limit,
        f"the file is larger than the {limit // (1024 * 1024)} MiB limit; nothing was stored",
        early_sniff=lambda head: check_head(head, display),
        hashed=True,
    )
    key = ctx.blobs.new_key("upload")
    try:
        ctx.blobs.put(key, receiver)  # type: ignore[arg-type]
        media_type = _sniff_stored(ctx, key, receiver, display)
    except BaseException as exc:
        ctx.blobs.delete(key)
        cause = receiver.error
        if cause is not None and cause is not exc:
            # The encryptor wrapped our reader's error in its own; answer with the real reason.
            raise cause from None
        raise
    row = CaseFile(
        case_id=case.id,
        name=display,
        size=receiver.size,
        sha256=receiver.sha256,
        media_type=media_type,
        blob_key=key,
        # The version this file came with: a supplement's files belong to the next bundle version.
        version=case.version,
    )
    ctx.session.add(row)
    ctx.session.flush()
    if case.status != "draft":
        # New content invalidates earlier results: the case must be processed again.
        case.status, case.progress, case.error = "draft", 0, None
    audit.record(
        ctx,
        "file.uploaded",
        "ok",
        "file",
        row.id,
        chain=case.id,
        detail={"name": display, "size": row.size, "sha256": row.sha256, "media_type": media_type},
    )
    return ReceivedFile(row, receiver.size)


def _sniff_stored(ctx: ServiceContext, key: str, receiver: ChunkReader, display: str) -> str:
    if receiver.size == 0:
        return sniff_media_type(b"", display)
    if not receiver.head.startswith(_CONTAINERS):
        return sniff_media_type(receiver.head, display)
    windows = BlobWindows(_readback(ctx, key), receiver.size)
    return sniff_media_type(receiver.head, display, windows)  # type: ignore[arg-type]


def discard(ctx: ServiceContext, received: ReceivedFile) -> None:
    """Delete a received file's blob when the transaction that would record it failed."""
    ctx.blobs.delete(received.row.blob_key)


def receive_bytes(ctx: ServiceContext, case_id: str, name: str | None, data: BinaryIO) -> CaseFile:
    """``receive_upload`` for callers that hold a file object (the CLI, tests)."""
    return receive_upload(ctx, case_id, name, iter(lambda: data.read(1 << 16), b"")).row
