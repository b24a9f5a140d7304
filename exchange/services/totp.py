"""Two-factor sign-in with TOTP (RFC 6238, via pyotp) and single-use recovery codes.

Invariants and threat assumptions:
- The TOTP seed must be readable by the server to check codes. It is stored
  AES-256-GCM encrypted under a key derived (HKDF-SHA256) from
  EXCHANGE_SECRET_KEY, so a database dump alone does not yield seeds; whoever
  holds both the dump and the secret key does. Rotating the secret key
  therefore invalidates every enrolment (users then sign in with a recovery
  code and enrol again). Seeds and codes are never logged or put in URLs.
- A code is accepted for the current 30-second step and one step either side
  (clock drift). Each accepted step is recorded with a conditional UPDATE, so
  a code (or an older one) cannot be used twice, not even by two requests
  racing each other.
- Recovery codes: ten random 60-bit codes, shown once, stored as SHA-256
  (their entropy makes a slow hash unnecessary); each works once, enforced by
  a conditional UPDATE.
- Guessing is bounded by the caller's throttle (``web.auth``), the same one
  that guards passwords.
- A user who lost both the authenticator and the recovery codes is reset by
  an administrator of their own organisation (or the operator's CLI): the
  enrolment and codes are deleted and every session of the user ends, so a
  stolen cookie does not survive the reset; where the organisation requires
  two-factor sign-in the user must enrol again at the next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, update

from exchange.domain.errors import Conflict, InvalidInput, NotFound
from exchange.models import RecoveryCode, TotpCredential, User
from exchange.services import audit, sessions
from exchange.services.context import ServiceContext

ISSUER = "secure-exchange"
RECOVERY_CODES = 10
_DRIFT_STEPS = 1
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are typed by hand


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_data_uri: str


def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"exchange totp seed v1").derive(
        secret_key.encode()
    )


def _seal(ctx: ServiceContext, user_id: int, seed: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(ctx.settings.secret_key)).encrypt(nonce, seed.encode(), str(user_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _open(ctx: ServiceContext, user_id: int, sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(_key(ctx.settings.secret_key)).decrypt(raw[:12], raw[12:], str(user_id).encode()).decode()


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def is_enrolled(ctx: ServiceContext, user_id: int) -> bool:
    cred = ctx.session.get(TotpCredential, user_id)
    return cred is not None and cred.confirmed_at is not None


def begin_enrolment(ctx: ServiceContext, user: User) -> Enrolment:
    """A fresh seed awaiting its first code; an earlier unconfirmed one is replaced."""
    cred = ctx.session.get(TotpCredential, user.id)
    if cred is not None and cred.confirmed_at is not None:
        raise Conflict("two-factor sign-in is already set up for this account")
    seed = pyotp.random_base32()
    if cred is None:
        cred = TotpCredential(user_id=user.id, secret_sealed=_seal(ctx, user.id, seed))
        ctx.session.add(cred)
    else:
        cred.secret_sealed, cred.last_step = _seal(ctx, user.id, seed), None
    ctx.session.flush()
    return _enrolment(seed, user.email)


def pending_enrolment(ctx: ServiceContext, user: User) -> Enrolment | None:
    cred = ctx.session.get(TotpCredential, user.id)
    if cred is None or cred.confirmed_at is not None:
        return None
    return _enrolment(_open(ctx, user.id, cred.secret_sealed), user.email)


def _enrolment(seed: str, email: str) -> Enrolment:
    uri = pyotp.TOTP(seed).provisioning_uri(name=email, issuer_name=ISSUER)
    # An <img> with a data: URI needs no script and no inline style, so the strict CSP holds.
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2)
    return Enrolment(seed, uri, qr)


def _accept_code(ctx: ServiceContext, cred: TotpCredential, code: str) -> bool:
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(_open(ctx, cred.user_id, cred.secret_sealed))
    now = ctx.clock.now()
    current = totp.timecode(now)
    for offset in range(-_DRIFT_STEPS, _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            step = current + offset
            claimed = ctx.session.execute(
                update(TotpCredential)
                .where(
                    TotpCredential.user_id == cred.user_id,
                    (TotpCredential.last_step.is_(None)) | (TotpCredential.last_step < step),
                )
                .values(last_step=step)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(claimed, "rowcount", 0))
    return False


def confirm_enrolment(ctx: ServiceContext, user: User, code: str) -> list[str]:
    """Check the first code; on success return the recovery codes (shown once, stored hashed)."""
    cred = ctx.session.get(TotpCredential, user.id)
    if cred is None or cred.confirmed_at is not None:
        raise Conflict("start the set-up again")
    if not _accept_code(ctx, cred, code):
        audit.record(ctx, "auth.totp_enrolled", "denied", "user", str(user.id))
        raise InvalidInput("that code is not right; check the time on your device and try the next code")
    cred.confirmed_at = ctx.clock.now()
    codes = _new_recovery_codes(ctx, user.id)
    audit.record(ctx, "auth.totp_enrolled", "ok", "user", str(user.id))
    return codes


def _new_recovery_codes(ctx: ServiceContext, user_id: int) -> list[str]:
    ctx.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        ctx.session.add(RecoveryCode(user_id=user_id, code_hash=_digest(code)))
        codes.append(code)
    ctx.session.flush()
    return codes


def verify(ctx: ServiceContext, user: User, code: str) -> bool:
    """True when ``code`` is a fresh TOTP code or an unused recovery code of the user."""
    cred = ctx.session.get(TotpCredential, user.id)
    if cred is None or cred.confirmed_at is None:
        return False
    ok = _accept_code(ctx, cred, code)
    method = "totp"
    if not ok:
        method = "recovery_code"
        normalised = code.strip().lower().replace(" ", "")
        if len(normalised) == 12 and "-" not in normalised:
            normalised = f"{normalised[:4]}-{normalised[4:8]}-{normalised[8:]}"
        used = ctx.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _digest(normalised),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=ctx.clock.now())
            .execution_options(synchronize_session=False)
        )
        ok = bool(getattr(used, "rowcount", 0))
    audit.record(
        ctx, "auth.second_factor", "ok" if ok else "denied", "user", str(user.id), detail={"method": method}
    )
    return ok


def reset(ctx: ServiceContext, user: User, *, by: User | None = None) -> None:
    """Remove ``user``'s second factor (lost device and codes); see the module docstring.

    ``by`` is the organisation administrator acting on the page; None means the operator.
    """
    if by is not None:
        if not by.org_admin or by.org_id != user.org_id:
            raise NotFound(f"no user with email {user.email}")  # other organisations' users stay hidden
        if by.id == user.id:
            raise Conflict("ask another administrator to reset your own two-factor sign-in")
    ctx.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ctx.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    sessions.end_all_for_user(ctx, user.id)
    audit.record(
        ctx, "user.totp_reset", "ok", "user", str(user.id), detail={"by": by.id if by else "operator"}
    )
