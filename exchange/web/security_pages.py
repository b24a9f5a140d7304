"""The Security page (tokens, password, two-factor sign-in, organisation users),
invitation acceptance, and their API counterparts under /api/v1.

Adapters only: each handler parses the form, calls one service and renders
the result. Secrets that are shown once (a new token, recovery codes, an
invitation link) are rendered in the response and kept nowhere else.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from exchange.domain.errors import DomainError
from exchange.extensions import csrf
from exchange.models import User
from exchange.services import accounts, invitations, sessions, totp
from exchange.services.context import ServiceContext
from exchange.web.auth import begin_session, login_required
from exchange.web.wiring import service_context

bp = Blueprint("security", __name__)
api = Blueprint("security_api", __name__, url_prefix="/api/v1")
csrf.exempt(api)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api)


def _me(ctx: ServiceContext) -> User:
    user = accounts.get_user(ctx, g.actor.user_id)
    if user is None:
        abort(401)
    return user


def _page(ctx: ServiceContext, status: int = 200, **shown: Any) -> Any:
    user = _me(ctx)
    members = accounts.org_members(ctx, user) if user.org_admin else []
    return (
        render_template(
            "security.html",
            user=user,
            tokens=accounts.list_tokens(ctx, user.id),
            enrolled=totp.is_enrolled(ctx, user.id),
            members=members,
            invitations=invitations.open_invitations(ctx, user),
            session_count=len(sessions.active_for_user(ctx, user.id)),
            **shown,
        ),
        status,
    )


def _invite_url(token: str) -> str:
    # The query string, not the path: the request log records paths and must never see the token.
    return url_for("security.accept_invitation", token=token, _external=True)


@bp.get("/security")
@login_required
def security_page() -> Any:
    return _page(service_context())


@bp.post("/security/tokens")
@login_required
def create_token() -> Any:
    ctx = service_context()
    try:
        token = accounts.create_token(ctx, g.actor.email, mfa_passed=bool(g.get("mfa_passed")))
    except DomainError as exc:
        ctx.commit()  # keeps the audit event of the refusal
        flash(exc.message, "error")
        return _page(ctx, exc.status)
    ctx.commit()
    return _page(ctx, new_token=token)


@bp.post("/security/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Any:
    ctx = service_context()
    accounts.revoke_token(ctx, token_id, owner_id=g.actor.user_id)
    ctx.commit()
    flash(_("The token was revoked."), "info")
    return redirect(url_for("security.security_page"))


@bp.post("/security/password")
@login_required
def change_password() -> Any:
    ctx = service_context()
    try:
        accounts.change_password(
            ctx,
            _me(ctx),
            request.form.get("current_password", "")[:1024],
            request.form.get("new_password", "")[:1024],
            keep_session=g.get("sid"),
        )
    except DomainError as exc:
        ctx.commit()  # keeps the audit event of a refused change
        flash(exc.message, "error")
        return _page(ctx, 422)
    ctx.commit()
    flash(_("Your password was changed; your other sessions were signed out."), "info")
    return redirect(url_for("security.security_page"))


@bp.route("/security/totp", methods=["GET", "POST"])
@login_required
def totp_enrol() -> Any:
    ctx = service_context()
    user = _me(ctx)
    if totp.is_enrolled(ctx, user.id):
        flash(_("Two-factor sign-in is already set up."), "info")
        return redirect(url_for("security.security_page"))
    if request.method == "POST":
        try:
            codes = totp.confirm_enrolment(ctx, user, request.form.get("code", "")[:40])
        except DomainError as exc:
            ctx.commit()
            flash(exc.message, "error")
            enrolment = totp.pending_enrolment(ctx, user) or totp.begin_enrolment(ctx, user)
            ctx.commit()
            return render_template("totp_enrol.html", enrolment=enrolment), 422
        if g.get("sid"):
            sessions.mark_mfa_passed(ctx, g.sid)
        ctx.commit()
        return render_template("totp_recovery.html", codes=codes)
    enrolment = totp.pending_enrolment(ctx, user) or totp.begin_enrolment(ctx, user)
    ctx.commit()
    return render_template("totp_enrol.html", enrolment=enrolment, required=g.get("must_enrol"))


@bp.post("/security/users/disable")
@login_required
def disable_user() -> Any:
    ctx = service_context()
    try:
        user = accounts.disable_user(ctx, request.form.get("email", "")[:320], by=_me(ctx))
    except DomainError as exc:
        flash(exc.message, "error")
        return _page(ctx, exc.status)
    ctx.commit()
    flash(_("%(email)s was disabled and signed out.", email=user.email), "info")
    return redirect(url_for("security.security_page"))


@bp.post("/security/users/reset-two-factor")
@login_required
def reset_two_factor() -> Any:
    ctx = service_context()
    me = _me(ctx)
    try:
        user = accounts.user_in_org(ctx, request.form.get("email", "")[:320], me)
        totp.reset(ctx, user, by=me)
    except DomainError as exc:
        flash(exc.message, "error")
        return _page(ctx, exc.status)
    ctx.commit()
    flash(_("Two-factor sign-in of %(email)s was reset; they were signed out.", email=user.email), "info")
    return redirect(url_for("security.security_page"))


@bp.post("/security/invitations")
@login_required
def create_invitation() -> Any:
    ctx = service_context()
    try:
        issued = invitations.invite(
            ctx, _me(ctx), request.form.get("email", "")[:320], request.form.get("role", "")[:20]
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _page(ctx, exc.status)
    ctx.commit()
    return _page(ctx, invite_link=_invite_url(issued.token), invited=issued.email)


@bp.route("/invite", methods=["GET", "POST"])
def accept_invitation() -> Any:
    token = (request.form.get("token") if request.method == "POST" else request.args.get("token")) or ""
    ctx = service_context(actor=None)
    try:
        invitation = invitations.pending(ctx, token)
    except DomainError as exc:
        return render_template("error.html", status=404, message=exc.message), 404
    if request.method == "POST":
        try:
            user = invitations.accept(ctx, token, request.form.get("password", "")[:1024])
        except DomainError as exc:
            ctx.session.rollback()
            flash(exc.message, "error")
            return render_template("invite_accept.html", invitation=invitation, token=token), exc.status
        ctx.commit()
        begin_session(user.id)
        return redirect(url_for("pages.home"))
    return render_template("invite_accept.html", invitation=invitation, token=token)


# -- API -------------------------------------------------------------------


@api.before_request
def _csrf_for_cookie_sessions() -> None:
    if not g.get("via_token"):
        csrf.protect()


@api.get("/tokens")
@login_required
def api_tokens() -> Any:
    ctx = service_context()
    rows = accounts.list_tokens(ctx, g.actor.user_id)
    return jsonify(
        tokens=[
            {
                "id": t.id,
                "prefix": t.prefix,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked,
            }
            for t in rows
        ]
    )


@api.delete("/tokens/<int:token_id>")
@login_required
def api_revoke_token(token_id: int) -> Any:
    ctx = service_context()
    accounts.revoke_token(ctx, token_id, owner_id=g.actor.user_id)
    ctx.commit()
    return "", 204


@api.post("/invitations")
@login_required
def api_invite() -> Any:
    ctx = service_context()
    me = _me(ctx)
    invitations.require_inviter(me)  # authorization answers before the body is judged
    body = request.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("email"), str)
        or not isinstance(body.get("role"), str)
    ):
        raise DomainError('send a JSON object {"email": ..., "role": ...}')
    issued = invitations.invite(ctx, me, body["email"][:320], body["role"][:20])
    ctx.commit()
    return jsonify(id=issued.id, email=issued.email, role=issued.role, url=_invite_url(issued.token)), 201
