"""Sign-in, sign-out, and who is calling: a session cookie or an API bearer token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, session, url_for

from exchange.services import accounts
from exchange.web.wiring import service_context, wiring

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def load_actor() -> None:
    g.actor, g.via_token = None, False
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
    uid = session.get("uid")
    if isinstance(uid, int):
        user = accounts.get_user(ctx, uid)
        if user is not None and session.get("pw") == user.password_hash[-16:]:
            g.actor = accounts.actor_for(user, request.remote_addr)
        else:
            session.clear()


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


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        email = request.form.get("email", "")[:320]
        password = request.form.get("password", "")[:1024]
        throttle = wiring().login_throttle
        if throttle.blocked(email):
            flash("Too many failed sign-ins for this account; try again in 15 minutes.", "error")
            return render_template("login.html", email=email), 429
        ctx = service_context(actor=None)
        user = accounts.authenticate(ctx, email, password)
        ctx.commit()
        if user is None:
            throttle.failed(email)
            flash("Wrong email or password.", "error")
            return render_template("login.html", email=email), 401
        throttle.succeeded(email)
        session.clear()
        session.permanent = True
        session["uid"] = user.id
        # Binds the session to the password: changing it signs out other sessions.
        session["pw"] = user.password_hash[-16:]
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", email="")


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
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
    if request.path.startswith("/api/") or g.get("actor") is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response
