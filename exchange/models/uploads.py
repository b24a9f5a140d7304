"""Resumable upload sessions (tus 1.0 core protocol; see ``services.resumable``).

A session's received bytes are stored as encrypted blobs, one per PATCH
request, listed in ``parts`` in order; nothing is kept in the clear and
nothing in the web process outlives a request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from exchange.models.tables import Base, UTCDateTime, new_id, utcnow


class UploadSession(Base):
    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    #: only the user who started an upload may continue it
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: the uploader's file name (display only, checked like any upload's name)
    name: Mapped[str] = mapped_column(String(255))
    #: the total size the client announced (Upload-Length)
    length: Mapped[int] = mapped_column(BigInteger)
    #: bytes received so far (Upload-Offset)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    #: [[blob key, size], ...] in order
    parts: Mapped[list[list[object]]] = mapped_column(JSON, default=list)
    #: the CaseFile made from the upload once complete (the session is kept until it expires)
    file_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: abandoned sessions are deleted with their parts after this time
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
