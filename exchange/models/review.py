"""Tables for the applicant's review and the bureau's requests (issue 10).

Review rows outlive processing runs: findings are replaced on every run,
decisions and boxes are not, and the next run applies them (see
``domain.detection.review``). Page images are blobs in the (encrypted) blob
store; these rows only point at them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exchange.models.tables import Base, UTCDateTime, new_id, utcnow


class ReviewDecision(Base):
    """The applicant's "keep" or "redact" for one value, one recipient, one file."""

    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("file_id", "recipient", "value_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("case_files.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    #: the value as found (or as selected), shown back to the applicant
    value: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the value's folded form: the uniqueness key without indexing long text
    value_key: Mapped[str] = mapped_column(String(64))
    #: "keep" or "redact"
    decision: Mapped[str] = mapped_column(String(10))
    #: the finding's type, or MANUAL for a text selection
    entity_type: Mapped[str] = mapped_column(String(60))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ManualBoxRow(Base):
    """A region the applicant boxed by hand on one page of one file."""

    __tablename__ = "manual_boxes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("case_files.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    left: Mapped[float] = mapped_column(Float)
    top: Mapped[float] = mapped_column(Float)
    right: Mapped[float] = mapped_column(Float)
    bottom: Mapped[float] = mapped_column(Float)
    #: recipient names the box applies to
    recipients: Mapped[list[str]] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PageImage(Base):
    """One rendered page of one view (original or a recipient's output) of a file."""

    __tablename__ = "page_images"
    __table_args__ = (UniqueConstraint("file_id", "view", "page"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("case_files.id", ondelete="CASCADE"), index=True)
    #: "original" or a recipient name
    view: Mapped[str] = mapped_column(String(20))
    page: Mapped[int] = mapped_column(Integer)
    #: the file's processing run the image was rendered from
    run: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(100))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: where findings sit on the page: [{"text", "entity_type", "box": [l, t, r, b]}] (original view)
    marks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InformationRequest(Base):
    """The bureau asking for more information about one version of a case."""

    __tablename__ = "information_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    #: the case version the request is about
    version: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: set when the applicant's supplement (the next version) is sealed
    answered_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
