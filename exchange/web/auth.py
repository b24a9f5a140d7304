"""Sign-in, sign-out, and who is calling: a server-side session or an API bearer token.

The signed cookie carries only ``sid``, a random session id; the session's
state lives in ``user_sessions`` (``services.sessions``), so ending it on the
server ends every copy of the cookie. Sign-in is throttled per account and
per client address with growing delays; when the throttle store is down,
sign-in answers 503 instead of skipping the throttle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from exchange.adapters.throttle import ThrottleUnavailable
from exchange.services import accounts, sessions, totp
from exchange.web.wiring import service_context, wiring

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

UNAVAILABLE = _l("Sign-in is temporarily unavailable; please try again in a minute.")
# Pages a user who still owes a two-factor enrolment may reach.
_ENROLMENT_ENDPOINTS = frozenset(
    {
        "security.totp_enrol",
        "auth.logout",
        "auth.login",
        "i18n.choose_language",
        "static",
        "ops.healthz",
        "ops.readyz",
    }
)


_ANONYMOUS_KEYS = frozenset({"csrf_token", "_flashes"})


def load_actor() -> None:
    g.actor, g.via_token, g.sid, g.pending_user, g.must_enrol, g.mfa_passed = (
        None,
        False,
        None,
        None,
        False,
        False,
    )
    header = request.headers.get("Authorization", "")
    ctx = service_context(actor=None)
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            user = accounts.user_for_token(ctx, token.strip())
            if user is not None:
                ctx.session.commit()
                g.actor, g.via_token = accounts.actor_for(user, request.remote_addr), True
        return
    sid = session.get("sid")
    if not isinstance(sid, str):
        # An anonymous session keeps only what sign-in itself needs (its CSRF token, flashed
        # messages); anything else is a stale cookie from before server-side sessions.
        for key in [k for k in session if k not in _ANONYMOUS_KEYS]:
            session.pop(key)
        return
    live = sessions.resolve(ctx, sid)
    ctx.session.commit()
    if live is None:
        session.clear()
        return
    g.sid = sid
    if live.mfa_pending:
        g.pending_user = live.user
        return
    g.actor = accounts.actor_for(live.user, request.remote_addr)
    g.mfa_passed = live.mfa_passed
    g.must_enrol = live.user.org.require_totp and not live.mfa_passed


def enforce_enrolment() -> Any:
    """Users of an organisation that requires 2FA reach nothing but enrolment until they enrol."""
    if not g.get("must_enrol") or request.endpoint in _ENROLMENT_ENDPOINTS:
        return None
    if request.path.startswith("/api/"):
        return jsonify(error="two-factor sign-in must be set up first"), 403
    return redirect(url_for("security.totp_enrol"))


bp.before_app_request(enforce_enrolment)


def login_required(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            if request.path.startswith("/api/"):
                abort(401)
            return redirect(url_for("auth.login", next=request.path))
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    # Only same-site absolute paths: an open redirect would make phishing links look like ours.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.home")


def _throttled(template: str, wait: int, **context: Any) -> Any:
    flash(_("Too many failed attempts; try again in %(wait)d seconds.", wait=wait), "error")
    response = Response(render_template(template, **context), status=429)
    response.headers["Retry-After"] = str(wait)
    return response


def _unavailable(template: str, **context: Any) -> Any:
    flash(str(UNAVAILABLE), "error")
    response = Response(render_template(template, **context), status=503)
    response.headers["Retry-After"] = "60"
    return response


def begin_session(user_id: int, *, mfa_pending: bool = False, mfa_passed: bool = False) -> None:
    """Start a fresh server-side session (a new id: an id seen before sign-in is useless after it)."""
    ctx = service_context(actor=None)
    if isinstance(session.get("sid"), str):
        sessions.end(ctx, session["sid"])
    user = accounts.get_user(ctx, user_id)
    if user is None:
        abort(403)
    sid = sessions.start(ctx, user, mfa_pending=mfa_pending, mfa_passed=mfa_passed)
    ctx.commit()
    session.clear()
    session.permanent = True
    session["sid"] = sid


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method != "POST":
        return render_template("login.html", email="")
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")[:1024]
    addr = request.remote_addr or ""
    throttle = wiring().login_throttle
    try:
        wait = throttle.wait_seconds(email, addr)
        if wait:
            return _throttled("login.html", wait, email=email)
        ctx = service_context(actor=None)
        user = accounts.authenticate(ctx, email, password)
        ctx.commit()
        if user is None:
            throttle.failed(email, addr)
            flash(_("Wrong email or password."), "error")
            return render_template("login.html", email=email), 401
        throttle.succeeded(email, addr)
    except ThrottleUnavailable:
        return _unavailable("login.html", email=email)
    nxt = _safe_next(request.args.get("next"))
    if totp.is_enrolled(ctx, user.id):
        begin_session(user.id, mfa_pending=True)
        return redirect(url_for("auth.second_factor", next=nxt))
    begin_session(user.id)
    return redirect(nxt)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> Any:
    user = g.get("pending_user")
    if user is None:
        return redirect(url_for("auth.login"))
    if request.method != "POST":
        return render_template("totp_verify.html")
    addr = request.remote_addr or ""
    throttle = wiring().login_throttle.for_purpose("second-factor")
    try:
        wait = throttle.wait_seconds(user.email, addr)
        if wait:
            return _throttled("totp_verify.html", wait)
        ctx = service_context(actor=None)
        ok = totp.verify(ctx, user, request.form.get("code", "")[:40])
        ctx.commit()
        if not ok:
            throttle.failed(user.email, addr)
            flash(_("That code is not right, or it was already used."), "error")
            return render_template("totp_verify.html"), 401
        throttle.succeeded(user.email, addr)
    except ThrottleUnavailable:
        return _unavailable("totp_verify.html")
    begin_session(user.id, mfa_passed=True)
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    sid = session.get("sid")
    if isinstance(sid, str):
        ctx = service_context(actor=None)
        sessions.end(ctx, sid)
        ctx.commit()
    session.clear()
    return redirect(url_for("auth.login"))


def security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/") or g.get("actor") is not None or g.get("pending_user") is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response
