"""Tables for sessions, two-factor sign-in and invitations (issue 10).

Nothing here holds a usable secret in the clear except where said:
session ids, recovery codes and invitation tokens are stored as SHA-256
digests of random values of at least 60 bits, so a database dump cannot be
replayed against the web server. The TOTP seed must be readable by the
server to check codes; it is stored encrypted (see ``services.totp``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.models.tables import Base, Organisation, User, UTCDateTime, utcnow


class UserSession(Base):
    """A signed-in browser. The cookie carries the random id; this row decides if it still works."""

    __tablename__ = "user_sessions"

    #: SHA-256 of the random id in the cookie
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the password was right but the second factor is still owed
    mfa_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the user proved a second factor in this session
    mfa_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class TotpCredential(Base):
    __tablename__ = "totp_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    #: the RFC 6238 seed, AES-GCM encrypted with a key derived from EXCHANGE_SECRET_KEY
    secret_sealed: Mapped[str] = mapped_column(String(200))
    #: unset while enrolment awaits the first code
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the last 30-second step a code was accepted for; older or equal steps are replays
    last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    org: Mapped[Organisation] = relationship(lazy="joined")
