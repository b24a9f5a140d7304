"""Organisations, users, passwords and API tokens.

Passwords are hashed with argon2id. API tokens are random 256-bit values
shown once; only their SHA-256 is stored, so a database dump yields no
usable token. Sign-in spends the same hashing work whether or not the email
exists, so response time does not reveal registered addresses.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from exchange.domain.bundles.sealing import parse_recipient
from exchange.domain.errors import Conflict, InvalidInput, NotFound
from exchange.models import ApiToken, Organisation, User
from exchange.services import audit
from exchange.services.context import Actor, ServiceContext

ROLES = ("applicant", "supplier", "bureau", "admin")
ORG_KINDS = {"applicant": "applicant", "supplier": "supplier", "bureau": "bureau", "admin": "operator"}
TOKEN_PREFIX = "sx_"  # noqa: S105  (a public prefix that marks our tokens, not a secret)
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def actor_for(user: User, client_addr: str | None = None) -> Actor:
    return Actor(user.id, user.email, user.role, user.org_id, user.org.name, client_addr)


def get_or_create_org(ctx: ServiceContext, name: str, kind: str) -> Organisation:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("organisation name must be 1 to 200 characters")
    org = ctx.session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name, kind=kind)
        ctx.session.add(org)
        ctx.session.flush()
    elif org.kind != kind:
        raise Conflict(f"organisation {name!r} exists as a {org.kind} organisation, not {kind}")
    return org


def add_user(ctx: ServiceContext, email: str, role: str, org_name: str, password: str) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput("not a valid email address")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    if ctx.session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    org = get_or_create_org(ctx, org_name, ORG_KINDS[role])
    user = User(email=email, role=role, org_id=org.id, password_hash=_hasher.hash(password))
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(ctx, "user.created", "ok", "user", str(user.id), detail={"role": role, "org": org.name})
    return user


def authenticate(ctx: ServiceContext, email: str, password: str) -> User | None:
    user = ctx.session.scalar(select(User).where(User.email == email.strip().lower()))
    candidate = user.password_hash if user and user.active else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        audit.record(
            ctx, "auth.sign_in", "denied", "user", None, detail={"email": email.strip().lower()[:320]}
        )
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(ctx, "auth.sign_in", "ok", "user", str(user.id))
    return user


def set_org_key(ctx: ServiceContext, org_name: str, recipient: str) -> Organisation:
    parse_recipient(recipient)
    org = ctx.session.scalar(select(Organisation).where(Organisation.name == org_name.strip()))
    if org is None:
        raise NotFound(f"no organisation named {org_name!r}")
    org.age_recipient = recipient.strip()
    audit.record(
        ctx, "org.key_set", "ok", "organisation", str(org.id), detail={"recipient": org.age_recipient}
    )
    return org


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx: ServiceContext, email: str) -> str:
    user = ctx.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ctx.session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:8]))
    audit.record(ctx, "token.created", "ok", "user", str(user.id))
    return token


def user_for_token(ctx: ServiceContext, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = ctx.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False))
    )
    if row is None or not row.user.active:
        return None
    row.last_used_at = ctx.clock.now()
    return row.user


def get_user(ctx: ServiceContext, user_id: int) -> User | None:
    user = ctx.session.get(User, user_id)
    return user if user and user.active else None


def org_by_name(ctx: ServiceContext, name: str) -> Organisation | None:
    return ctx.session.scalar(select(Organisation).where(Organisation.name == name.strip()))
