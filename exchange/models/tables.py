from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always timezone-aware UTC, also on SQLite, which stores naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: applicant | supplier | bureau | operator
    kind: Mapped[str] = mapped_column(String(20))
    age_recipient: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: members must enrol a TOTP authenticator before they reach any page
    require_totp: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    #: applicant | supplier | bureau | admin
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: set with ``active = False`` when an operator or org admin disables the account
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: may invite, list and disable users of its own organisation
    org_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    org: Mapped[Organisation] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="joined")


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    applicant_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    supplier_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    bureau_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    #: draft | processing | review | sealing | sealed | failed
    status: Mapped[str] = mapped_column(String(20), default="draft")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: bumped on every submit so a stale task run can tell it is outdated
    run: Mapped[int] = mapped_column(Integer, default=0)
    label_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the sealing job's lease: while it lies in the future a live job owns the
    #: case's sealing; once past, the reconciler queues the job again
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    #: the bundle version being prepared (1, then one more per supplement)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: the bureau's status (see domain.lifecycle.BureauStatus); None until the bureau sets one
    bureau_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    applicant_org: Mapped[Organisation] = relationship(foreign_keys=[applicant_org_id], lazy="joined")
    supplier_org: Mapped[Organisation] = relationship(foreign_keys=[supplier_org_id], lazy="joined")
    bureau_org: Mapped[Organisation] = relationship(foreign_keys=[bureau_org_id], lazy="joined")
    files: Mapped[list[CaseFile]] = relationship(
        back_populates="case", order_by="CaseFile.created_at", lazy="selectin"
    )


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseFile(Base):
    __tablename__ = "case_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    #: the uploader's file name, for display only; never used as a path
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(100))
    blob_key: Mapped[str] = mapped_column(String(100))
    #: uploaded | queued | running | processed | failed
    status: Mapped[str] = mapped_column(String(20), default="uploaded")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the case run this file's state belongs to; a job for another run is stale
    run: Mapped[int] = mapped_column(Integer, default=0)
    #: when its job was last queued (the reconciler re-queues a job lost by the broker)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the running job's lease, extended by its heartbeat; past it the job is presumed dead
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: per entity type, how many findings the last run stored (the rows are in ``findings``)
    finding_counts: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: digest of what the last successful processing depended on (content, policy,
    #: review); a submit skips the file while it still matches
    processed_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: pages (or image frames) of the original, known once processed; None for other formats
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the case version the file was added in (1 for the first application)
    version: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship(back_populates="files")
    outputs: Mapped[list[RedactedFile]] = relationship(back_populates="file", lazy="selectin")


class FindingRow(Base):
    """One finding of one file, where it was read; served paged, never with the case."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("case_files.id", ondelete="CASCADE"), index=True)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    recognizer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)
    suggestion: Mapped[bool] = mapped_column(Boolean, default=False)
    #: recipient -> "redact" | "keep", and recipient -> reason
    decisions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reasons: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class OutboxMessage(Base):
    """A job committed together with the state change that implies it.

    The relay sends it to the broker after the commit and deletes it once
    sent; until then a periodic relay retries, so a job is never lost to a
    broker that was down. A job may be sent twice; every job is idempotent.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class PendingBlob(Base):
    """A blob a job is about to write: committed before the write, removed with the
    row that adopts the blob. One left behind by a dead job is deleted by the reconciler."""

    __tablename__ = "pending_blobs"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class RedactedFile(Base):
    __tablename__ = "redacted_files"
    __table_args__ = (UniqueConstraint("file_id", "recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("case_files.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    blob_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: ok | leak | error
    status: Mapped[str] = mapped_column(String(20))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the file name as this recipient may see it (its policy applied by the
    #: processing worker); the only name ever shown to or sealed for it
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    file: Mapped[CaseFile] = relationship(back_populates="outputs")


class Bundle(Base):
    __tablename__ = "bundles"
    __table_args__ = (UniqueConstraint("case_id", "recipient", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    #: the case version sealed in this bundle; a supplement seals the next one
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: the same recipient's bundle of the previous version, if any
    previous_id: Mapped[str | None] = mapped_column(ForeignKey("bundles.id"), nullable=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    blob_key: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    file_count: Mapped[int] = mapped_column(Integer)
    #: the case title as this recipient may see it, computed when sealing;
    #: recipients are shown this, never ``case.title``
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    #: loaded only when read: listing or downloading bundles must not load cases' files
    case: Mapped[Case] = relationship(lazy="select")
    org: Mapped[Organisation] = relationship(lazy="joined")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: a case id, or "system" for events outside any case
    chain: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    org_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
