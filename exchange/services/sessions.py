"""Server-side sign-in sessions.

Invariants:
- The browser's signed cookie holds only a random 256-bit session id; the
  database holds its SHA-256. Whether a cookie still works is decided by the
  ``user_sessions`` row on every request, so signing out, changing the
  password, disabling the user, or a timeout ends the session at once, even
  for a copy of the cookie taken earlier (the threat: a cookie saved from a
  shared or seized machine).
- A session ends after ``idle_timeout_minutes`` without a request and
  ``session_lifetime_hours`` after sign-in, whichever comes first.
- A session whose second factor is still owed (``mfa_pending``) identifies
  the user only to the two-factor step; it opens no page. Passing the second
  factor starts a fresh session id, so an id seen before that step is
  worthless afterwards; the step must be done within five minutes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from exchange.models import User, UserSession
from exchange.services.context import ServiceContext

#: how long the second-factor step may take after the password was accepted
PENDING_MFA_SECONDS = 300
# Writing last_seen_at on every request would turn each page view into a write;
# a coarser stamp still ends idle sessions within a small fraction of the timeout.
_TOUCH_FRACTION = 0.05


@dataclass(frozen=True)
class LiveSession:
    id: str
    user: User
    mfa_pending: bool
    mfa_passed: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(ctx: ServiceContext, user: User, *, mfa_pending: bool = False, mfa_passed: bool = False) -> str:
    """Record a new session for ``user``; return the id to put in the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    ctx.session.add(
        UserSession(
            id=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=ctx.settings.session_lifetime_hours),
            mfa_pending=mfa_pending,
            mfa_passed=mfa_passed,
        )
    )
    ctx.session.flush()
    return token


def resolve(ctx: ServiceContext, token: str) -> LiveSession | None:
    """The live session behind a cookie's id, or None once it has ended for any reason."""
    if not token or len(token) > 100:
        return None
    row = ctx.session.get(UserSession, _digest(token))
    if row is None or row.revoked_at is not None:
        return None
    now = ctx.clock.now()
    idle = timedelta(minutes=ctx.settings.idle_timeout_minutes)
    pending_too_long = row.mfa_pending and now - row.created_at >= timedelta(seconds=PENDING_MFA_SECONDS)
    if now >= row.expires_at or now - row.last_seen_at >= idle or pending_too_long or not row.user.active:
        row.revoked_at = now
        return None
    if now - row.last_seen_at >= idle * _TOUCH_FRACTION:
        row.last_seen_at = now
    return LiveSession(row.id, row.user, row.mfa_pending, row.mfa_passed)


def end(ctx: ServiceContext, token: str) -> None:
    ctx.session.execute(
        update(UserSession)
        .where(UserSession.id == _digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=ctx.clock.now())
    )


def end_all_for_user(ctx: ServiceContext, user_id: int, *, keep: str | None = None) -> int:
    """End every session of the user (but ``keep``, a cookie id); return how many ended."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != _digest(keep))
    result = ctx.session.execute(stmt.values(revoked_at=ctx.clock.now()))
    return int(getattr(result, "rowcount", 0) or 0)


def mark_mfa_passed(ctx: ServiceContext, token: str) -> None:
    """Record that the current session proved a second factor (enrolment just confirmed)."""
    row = ctx.session.get(UserSession, _digest(token))
    if row is not None:
        row.mfa_passed, row.mfa_pending = True, False


def active_for_user(ctx: ServiceContext, user_id: int) -> list[UserSession]:
    now = ctx.clock.now()
    return list(
        ctx.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.created_at.desc())
        )
    )
