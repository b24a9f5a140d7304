"""Organisation administrators invite users by a single-use, expiring link.

Invariants and threat assumptions:
- Only an org admin (``users.org_admin``) invites, only into their own
  organisation, and only with a role that fits its kind (a supplier
  organisation invites suppliers). The operator's ``admin`` role is never
  given by invitation.
- The link carries a random 256-bit token; only its SHA-256 is stored, it
  expires after ``invitation_hours`` and it is consumed by a conditional
  UPDATE, so it works once even under concurrent use. The token travels in
  the query string, which the request log leaves out (it logs paths), and
  the Referrer-Policy is ``no-referrer``; it is never logged or audited.
- The invitee's password goes through the same strength check as any other.
  If the organisation requires two-factor sign-in, the first session can
  reach nothing but enrolment (``web.auth.enforce_enrolment``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.models import Invitation, User
from exchange.services import accounts, audit, passwords
from exchange.services.context import ServiceContext

_INVITABLE = {"applicant": ("applicant",), "supplier": ("supplier",), "bureau": ("bureau",)}


@dataclass(frozen=True)
class Issued:
    id: int
    email: str
    role: str
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def require_inviter(inviter: User) -> None:
    """Only an active organisation administrator may invite; asked before reading any input."""
    if not inviter.org_admin or not inviter.active:
        raise Forbidden("only organisation administrators can invite users")


def invite(ctx: ServiceContext, inviter: User, email: str, role: str) -> Issued:
    require_inviter(inviter)
    email = accounts.normalise_email(email)
    allowed = _INVITABLE.get(inviter.org.kind, ())
    if role not in allowed:
        raise InvalidInput(f"{inviter.org.name} can invite only: {', '.join(allowed) or 'nobody'}")
    if ctx.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    row = Invitation(
        org_id=inviter.org_id,
        email=email,
        role=role,
        token_hash=_digest(token),
        created_by_id=inviter.id,
        created_at=now,
        expires_at=now + timedelta(hours=ctx.settings.invitation_hours),
    )
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "user.invited", "ok", "invitation", str(row.id), detail={"role": role})
    return Issued(row.id, email, role, token)


def pending(ctx: ServiceContext, token: str) -> Invitation:
    """The open invitation behind a token; NotFound hides whether it never existed, expired or was used."""
    row = ctx.session.scalar(select(Invitation).where(Invitation.token_hash == _digest(token[:100])))
    if row is None or row.used_at is not None or ctx.clock.now() >= row.expires_at:
        raise NotFound("this invitation link is not valid; ask for a new one")
    return row


def accept(ctx: ServiceContext, token: str, password: str) -> User:
    row = pending(ctx, token)
    passwords.check_password(password, (row.email, row.org.name))
    claimed = ctx.session.execute(
        update(Invitation)
        .where(Invitation.id == row.id, Invitation.used_at.is_(None))
        .values(used_at=ctx.clock.now())
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        raise NotFound("this invitation link is not valid; ask for a new one")
    user = accounts.add_user(ctx, row.email, row.role, row.org.name, password)
    audit.record(ctx, "user.invitation_accepted", "ok", "invitation", str(row.id))
    return user


def open_invitations(ctx: ServiceContext, admin: User) -> list[Invitation]:
    if not admin.org_admin:
        return []
    now = ctx.clock.now()
    return list(
        ctx.session.scalars(
            select(Invitation)
            .where(
                Invitation.org_id == admin.org_id, Invitation.used_at.is_(None), Invitation.expires_at > now
            )
            .order_by(Invitation.created_at.desc())
        )
    )
