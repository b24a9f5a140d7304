"""The recipients' inbox and the bureau's forms; the applicant's supplement button.

Adapters only: every route calls one service in :mod:`exchange.services.bureau`,
which decides who sees what. Form posts are CSRF-protected like every form
and answer with a redirect (post/redirect/get); a refusal is flashed in one
line. The applicant's case page includes ``_case_exchange.html``, which reads
its data through the ``case_exchange(case)`` template global registered here,
so the case page passes nothing new.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from exchange.domain.errors import DomainError
from exchange.domain.lifecycle import BureauStatus
from exchange.models import Case
from exchange.services import bureau
from exchange.web.auth import login_required
from exchange.web.wiring import service_context

bp = Blueprint("inbox_pages", __name__)

#: the bureau's statuses as the pages show them; the codes stay English in the API
STATUS_LABELS: dict[str, Any] = {
    BureauStatus.UNDER_REVIEW.value: _l("under review"),
    BureauStatus.INFORMATION_REQUESTED.value: _l("information requested"),
    BureauStatus.APPROVED.value: _l("approved"),
    BureauStatus.REJECTED.value: _l("rejected"),
}
RECIPIENT_ROLES = ("supplier", "bureau")


def bureau_status_label(code: str | None) -> str:
    return str(STATUS_LABELS.get(code or "", code or ""))


def human_size(size: int | None) -> str:
    """Bytes as people read them: KB under a megabyte, MB above (1024-based, one decimal)."""
    if size is None:
        return ""
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def case_exchange(case: Case) -> dict[str, Any] | None:
    """The exchange with the bureau for the applicant's case page (None: nothing to show)."""
    if g.get("actor") is None or g.actor.role != "applicant":
        return None
    try:
        return bureau.case_exchange(service_context(), case.id)
    except DomainError:
        return None


@bp.record_once
def _template_globals(state: BlueprintSetupState) -> None:
    state.app.jinja_env.globals.update(case_exchange=case_exchange, bureau_status_label=bureau_status_label)
    state.app.jinja_env.filters["human_size"] = human_size


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/inbox")
@login_required
def inbox() -> Any:
    if g.actor.role not in RECIPIENT_ROLES:
        abort(403)
    cards = bureau.inbox(service_context())
    return render_template(
        "inbox.html",
        cards=cards,
        statuses=[s.value for s in BureauStatus],
        message_max=bureau.MESSAGE_MAX,
    )


def _back_to_inbox(case_id: str) -> Any:
    return redirect(url_for("inbox_pages.inbox") + f"#case-{case_id}")


@bp.post("/inbox/cases/<case_id>/information-requests")
@login_required
def request_information(case_id: str) -> Any:
    ctx = service_context()
    try:
        bureau.request_information(ctx, case_id, request.form.get("message", ""))
        ctx.commit()
    except DomainError as exc:
        ctx.session.rollback()
        if exc.status in (403, 404):
            raise
        flash(_("Not sent: %(reason)s", reason=exc.message), "error")
        return _back_to_inbox(case_id)
    flash(_("Your request was sent to the applicant."), "ok")
    return _back_to_inbox(case_id)


@bp.post("/inbox/cases/<case_id>/bureau-status")
@login_required
def set_status(case_id: str) -> Any:
    ctx = service_context()
    try:
        case = bureau.set_status(ctx, case_id, request.form.get("status", ""))
        ctx.commit()
    except DomainError as exc:
        ctx.session.rollback()
        if exc.status in (403, 404):
            raise
        flash(_("Not changed: %(reason)s", reason=exc.message), "error")
        return _back_to_inbox(case_id)
    flash(_("Status set to “%(status)s”.", status=bureau_status_label(case.bureau_status)), "ok")
    return _back_to_inbox(case_id)


@bp.post("/cases/<case_id>/supplement")
@login_required
def start_supplement(case_id: str) -> Any:
    ctx = service_context()
    try:
        case = bureau.start_supplement(ctx, case_id)
        ctx.commit()
    except DomainError as exc:
        ctx.session.rollback()
        if exc.status in (403, 404):
            raise
        flash(_("No supplement started: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("pages.case_page", case_id=case_id))
    flash(
        _(
            "Supplement started: the case is a draft of version %(version)d. Upload the new files, "
            "submit, review and approve; both recipients then get a new bundle with every file.",
            version=case.version,
        ),
        "ok",
    )
    return redirect(url_for("pages.case_page", case_id=case.id))
