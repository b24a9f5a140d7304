"""Organisations, users, passwords and API tokens.

Passwords are hashed with argon2id and must pass ``services.passwords``
(length and a common-password check). API tokens are random 256-bit values
shown once; only their SHA-256 is stored, so a database dump yields no
usable token. Sign-in spends the same hashing work whether or not the email
exists, so response time does not reveal registered addresses.

Revocation is immediate: a revoked token or a disabled user is refused on
the next request, because every request looks the token or the session up
in the database (``user_for_token``, ``services.sessions.resolve``).

Organisation administrators are users with the ``org_admin`` flag: they keep
their working role (applicant, supplier, bureau) and may additionally
invite, list and disable users of their own organisation. The ``admin`` role
stays the platform operator's.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from exchange.domain.bundles.sealing import parse_recipient
from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.models import ApiToken, Organisation, TotpCredential, User
from exchange.services import audit, passwords, sessions
from exchange.services.context import Actor, ServiceContext

ROLES = ("applicant", "supplier", "bureau", "admin")
ORG_KINDS = {"applicant": "applicant", "supplier": "supplier", "bureau": "bureau", "admin": "operator"}
TOKEN_PREFIX = "sx_"  # noqa: S105  (a public prefix that marks our tokens, not a secret)
MIN_PASSWORD = passwords.MIN_LENGTH
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


def add_user(
    ctx: ServiceContext, email: str, role: str, org_name: str, password: str, *, org_admin: bool = False
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput("not a valid email address")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    passwords.check_password(password, (email, org_name))
    if ctx.session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    org = get_or_create_org(ctx, org_name, ORG_KINDS[role])
    user = User(
        email=email, role=role, org_id=org.id, password_hash=_hasher.hash(password), org_admin=org_admin
    )
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(
        ctx,
        "user.created",
        "ok",
        "user",
        str(user.id),
        detail={"role": role, "org": org.name, "org_admin": org_admin},
    )
    return user


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput("not a valid email address")
    return email


def user_by_email(ctx: ServiceContext, email: str) -> User:
    user = ctx.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def change_password(
    ctx: ServiceContext, user: User, current: str, new: str, *, keep_session: str | None
) -> None:
    """Set a new password; every other session of the user ends (``keep_session`` is the caller's)."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        audit.record(ctx, "user.password_changed", "denied", "user", str(user.id))
        raise InvalidInput("the current password is wrong") from None
    passwords.check_password(new, (user.email, user.org.name))
    user.password_hash = _hasher.hash(new)
    sessions.end_all_for_user(ctx, user.id, keep=keep_session)
    audit.record(ctx, "user.password_changed", "ok", "user", str(user.id))


def disable_user(ctx: ServiceContext, email: str, *, by: User | None = None) -> User:
    """Disable an account: its sessions end and its tokens stop working on the next request.

    ``by`` is the org admin acting on the page; None means the operator (CLI).
    """
    user = user_by_email(ctx, email)
    if by is not None:
        if not by.org_admin or by.org_id != user.org_id:
            raise NotFound(f"no user with email {email}")  # other organisations' users are not revealed
        if by.id == user.id:
            raise Conflict("you cannot disable your own account")
    if user.active:
        user.active = False
        user.disabled_at = ctx.clock.now()
    sessions.end_all_for_user(ctx, user.id)
    audit.record(ctx, "user.disabled", "ok", "user", str(user.id))
    return user


def user_in_org(ctx: ServiceContext, email: str, admin: User) -> User:
    """A user of ``admin``'s own organisation; anyone else is NotFound (not revealed)."""
    if not admin.org_admin:
        raise NotFound(f"no user with email {email}")
    try:
        user = user_by_email(ctx, email)
    except NotFound:
        raise NotFound(f"no user with email {email}") from None
    if user.org_id != admin.org_id:
        raise NotFound(f"no user with email {email}")
    return user


def set_org_admin(ctx: ServiceContext, email: str, value: bool) -> User:
    user = user_by_email(ctx, email)
    user.org_admin = value
    audit.record(ctx, "user.org_admin", "ok", "user", str(user.id), detail={"org_admin": value})
    return user


def set_require_totp(ctx: ServiceContext, org_name: str, value: bool) -> Organisation:
    org = org_by_name(ctx, org_name)
    if org is None:
        raise NotFound(f"no organisation named {org_name!r}")
    org.require_totp = value
    audit.record(ctx, "org.require_totp", "ok", "organisation", str(org.id), detail={"require_totp": value})
    return org


def org_members(ctx: ServiceContext, admin: User) -> list[User]:
    if not admin.org_admin:
        raise Forbidden("only organisation administrators can list users")
    return list(ctx.session.scalars(select(User).where(User.org_id == admin.org_id).order_by(User.email)))


def totp_enrolled(ctx: ServiceContext, user_id: int) -> bool:
    cred = ctx.session.get(TotpCredential, user_id)
    return cred is not None and cred.confirmed_at is not None


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


def create_token(ctx: ServiceContext, email: str, *, mfa_passed: bool | None = None) -> str:
    """A new token for the user, shown once.

    ``mfa_passed`` is the creating session's state; None means the operator
    (CLI), who may create tokens only for users already enrolled when their
    organisation requires two-factor sign-in.
    """
    user = user_by_email(ctx, email)
    if user.org.require_totp:
        allowed = mfa_passed if mfa_passed is not None else totp_enrolled(ctx, user.id)
        if not allowed:
            audit.record(ctx, "token.created", "denied", "user", str(user.id))
            raise Forbidden("your organisation requires two-factor sign-in before API tokens are created")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ctx.session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:8]))
    audit.record(ctx, "token.created", "ok", "user", str(user.id))
    return token


def list_tokens(ctx: ServiceContext, user_id: int) -> list[ApiToken]:
    return list(
        ctx.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id)
        )
    )


def revoke_token(ctx: ServiceContext, token_id: int, *, owner_id: int | None = None) -> ApiToken:
    """Revoke a token; ``owner_id`` confines it to that user's tokens (None: operator)."""
    row = ctx.session.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.user_id != owner_id):
        raise NotFound(f"no token {token_id}")
    row.revoked = True
    audit.record(ctx, "token.revoked", "ok", "user", str(row.user_id), detail={"token_id": row.id})
    return row


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
