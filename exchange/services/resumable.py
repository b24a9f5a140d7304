"""Resumable uploads: the tus 1.0 core protocol with the creation and termination extensions.

A browser on a weak line, or a 2 GB video, must not start again from zero
when a connection drops. The client creates an upload session announcing the
total length, sends the bytes in PATCH requests at the offset the server
confirms, asks for the offset after an interruption and continues there.
When the last byte arrives the parts are fed, in order, through the same
:func:`exchange.services.uploads.receive_upload` as a one-shot upload, so
the file gets the same checks (name, content sniffing, size, state of the
case, audit record) and nothing else decides what a file is.

Invariants:

* Only the user who created a session can see, continue or end it; anyone
  else gets NotFound, so session ids cannot be probed.
* The case's state and the caller's rights are checked at creation, at every
  PATCH before its body is read, and once more at completion.
* Each PATCH body is stored as one encrypted blob (plaintext never touches a
  disk). Its key is committed as a pending blob before it is written, so a
  crash between write and commit leaves nothing the reconciler cannot clean.
* The offset moves only by a conditional UPDATE from the offset the request
  named, so two concurrent PATCHes at the same offset cannot both land.
* A content-type refusal at completion (or at the first bytes) ends the
  session and deletes its parts: the one-line reason is answered once.

Threat assumptions: the caller is authenticated and may lie about lengths,
offsets and names, send more or fewer bytes than announced, or abandon
sessions; abandoned sessions expire (``expire``).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from exchange.domain.errors import Conflict, DomainError, InvalidInput, NotFound, TooLarge
from exchange.domain.filetypes import upload_name
from exchange.models import PendingBlob, UploadSession
from exchange.services import uploads
from exchange.services.context import ServiceContext

TUS_VERSION = "1.0.0"
#: the largest body one PATCH may carry; clients send chunks of at most this
MAX_PART_BYTES = 32 * 1024 * 1024
#: open sessions one user may hold at once (each holds stored parts)
MAX_OPEN_SESSIONS = 20
SESSION_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a session stands after a request."""

    id: str
    received: int
    length: int
    #: set once the upload is complete and the file recorded
    file_id: str | None = None


def _progress(row: UploadSession) -> Progress:
    return Progress(row.id, row.received, row.length, row.file_id)


def parse_metadata(header: str | None) -> dict[str, str]:
    """tus ``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    out: dict[str, str] = {}
    if not header:
        return out
    if len(header) > 4096:
        raise InvalidInput("Upload-Metadata is too long")
    for pair in header.split(","):
        fields = pair.strip().split(" ")
        if not fields[0] or len(fields) > 2:
            raise InvalidInput("Upload-Metadata must be 'key base64value' pairs separated by commas")
        try:
            value = base64.b64decode(fields[1], validate=True).decode("utf-8") if len(fields) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInput(
                f"Upload-Metadata: the value of {fields[0]!r} is not base64 of UTF-8 text"
            ) from None
        out[fields[0]] = value
    return out


def parse_length(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise InvalidInput(f"{name} must be a whole number of bytes")
    return int(value)


def start(
    ctx: ServiceContext, case_id: str, length_header: str | None, metadata_header: str | None
) -> Progress:
    """A new session for one file of ``case_id``, from the tus creation headers.

    The headers are read only after the caller's rights: a stranger learns nothing from them.
    """
    case = uploads.authorise(ctx, case_id)
    length = parse_length(length_header, "Upload-Length")
    metadata = parse_metadata(metadata_header)
    actor = ctx.actor
    if actor is None:  # authorise() refused anonymous callers already; this keeps the types honest
        raise NotFound("no such case")
    if length < 1:
        raise InvalidInput("the file is empty; choose a file with content")
    if length > ctx.settings.max_upload_bytes:
        raise TooLarge(f"the file is larger than the limit of {ctx.settings.max_upload_bytes} bytes")
    name = upload_name(metadata.get("filename") or metadata.get("name"))
    now = ctx.clock.now()
    open_sessions = ctx.session.scalar(
        select(func.count())
        .select_from(UploadSession)
        .where(
            UploadSession.user_id == actor.user_id,
            UploadSession.file_id.is_(None),
            UploadSession.expires_at > now,
        )
    )
    if (open_sessions or 0) >= MAX_OPEN_SESSIONS:
        raise Conflict(f"at most {MAX_OPEN_SESSIONS} unfinished uploads at once; finish or cancel one")
    row = UploadSession(
        case_id=case.id,
        user_id=actor.user_id,
        name=name,
        length=length,
        received=0,
        parts=[],
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    ctx.session.add(row)
    ctx.session.flush()
    return _progress(row)


def _owned(ctx: ServiceContext, upload_id: str) -> UploadSession:
    actor = ctx.actor
    row = (
        ctx.session.get(UploadSession, upload_id)
        if isinstance(upload_id, str) and len(upload_id) <= 36
        else None
    )
    if row is None or actor is None or row.user_id != actor.user_id or row.expires_at <= ctx.clock.now():
        raise NotFound("no such upload (it may have expired); start the upload again")
    return row


def status(ctx: ServiceContext, upload_id: str) -> Progress:
    return _progress(_owned(ctx, upload_id))


def append(ctx: ServiceContext, upload_id: str, offset: int, chunks: Iterable[bytes]) -> Progress:
    """Store the bytes of one PATCH at ``offset``; complete the upload when the last byte is in."""
    row = _owned(ctx, upload_id)
    if row.file_id is not None:
        raise Conflict("this upload is already complete")
    if offset != row.received:
        raise Conflict(
            f"Upload-Offset {offset} does not match the {row.received} bytes received; resume from there"
        )
    uploads.authorise(ctx, row.case_id)
    key = ctx.blobs.new_key("uploadpart")
    ctx.session.add(PendingBlob(key=key, created_at=ctx.clock.now()))
    session_id, case_id, name, length = row.id, row.case_id, row.name, row.length
    ctx.commit()  # the key is recorded before anything is written under it

    part = uploads.ChunkReader(
        chunks,
        min(MAX_PART_BYTES, length - offset),
        "more bytes than the upload announced (or than one request may carry)",
    )
    try:
        ctx.blobs.put(key, part)  # type: ignore[arg-type]
    except BaseException as exc:
        # A dropped connection included: the part is discarded and the client resumes at ``offset``.
        _drop_part(ctx, key)
        cause = part.error
        if cause is not None and cause is not exc:
            raise cause from None
        raise
    if offset == 0 and part.size:
        try:
            # Refuse a lying or unsupported type at the first bytes, not after 2 GB.
            uploads.check_head(part.head, upload_name(name))
        except DomainError:
            _drop_part(ctx, key)
            terminate(ctx, session_id)
            raise
    if part.size == 0:
        _drop_part(ctx, key)
        return status(ctx, session_id)

    moved = ctx.session.execute(
        update(UploadSession)
        .where(UploadSession.id == session_id, UploadSession.received == offset)
        .values(received=offset + part.size, parts=[*row.parts, [key, part.size]])
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        _drop_part(ctx, key)
        raise Conflict("another request continued this upload at the same offset; ask for the offset again")
    claimed = ctx.session.execute(delete(PendingBlob).where(PendingBlob.key == key))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # The reconciler took the part for abandoned (it took over an hour): resend it.
        _drop_part(ctx, key)
        raise Conflict("this part took too long to arrive; ask for the offset and send it again")
    ctx.commit()
    if offset + part.size < length:
        return Progress(session_id, offset + part.size, length)
    return _complete(ctx, session_id, case_id)


def _drop_part(ctx: ServiceContext, key: str) -> None:
    ctx.session.rollback()
    ctx.blobs.delete(key)
    ctx.session.execute(delete(PendingBlob).where(PendingBlob.key == key))
    ctx.commit()


def _part_chunks(ctx: ServiceContext, keys: list[str]) -> Iterator[bytes]:
    for key in keys:
        buffer = io.BytesIO()  # one part (at most MAX_PART_BYTES) in memory at a time
        ctx.blobs.get_to(key, buffer)
        yield buffer.getvalue()


def _complete(ctx: ServiceContext, session_id: str, case_id: str) -> Progress:
    row = ctx.session.get(UploadSession, session_id, populate_existing=True)
    if row is None:
        raise NotFound("no such upload")
    keys = [str(part[0]) for part in row.parts]
    try:
        received = uploads.receive_upload(ctx, case_id, row.name, _part_chunks(ctx, keys))
    except BaseException:
        ctx.session.rollback()
        terminate(ctx, session_id)
        raise
    row.file_id = received.row.id
    row.parts = []
    try:
        ctx.commit()
    except BaseException:
        uploads.discard(ctx, received)
        raise
    for key in keys:  # only once the file is recorded: a crash before keeps the parts
        ctx.blobs.delete(key)
    return Progress(session_id, row.length, row.length, received.row.id)


def terminate(ctx: ServiceContext, upload_id: str) -> None:
    """End a session and delete what it stored (tus termination)."""
    row = _owned(ctx, upload_id)
    keys = [str(part[0]) for part in row.parts]
    ctx.session.delete(row)
    ctx.commit()
    for key in keys:
        ctx.blobs.delete(key)


def expire(ctx: ServiceContext, limit: int = 200) -> int:
    """Delete sessions past their lifetime with their parts (run by the reconciler)."""
    rows = list(
        ctx.session.scalars(
            select(UploadSession).where(UploadSession.expires_at <= ctx.clock.now()).limit(limit)
        )
    )
    keys = [str(part[0]) for row in rows for part in row.parts]
    for row in rows:
        ctx.session.delete(row)
    ctx.commit()
    for key in keys:
        ctx.blobs.delete(key)
    return len(rows)
