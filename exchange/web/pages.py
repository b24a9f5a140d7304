"""Server-rendered pages. Data changes go through the JSON API from app.js.

The case page is driven by the case's lifecycle: it shows exactly the
actions ``cases.case_actions`` allows, and app.js swaps the server-rendered
regions (``data-region``) when the state changes, so the page never offers
what the service would refuse. Approving goes through a summary page and an
explicit confirmation, and works without JavaScript.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from exchange.domain.errors import DomainError
from exchange.models import Case
from exchange.services import access_log, approval, cases, sharing
from exchange.services.context import ServiceContext
from exchange.web.auth import login_required
from exchange.web.i18n import label, utc_time
from exchange.web.wiring import service_context

bp = Blueprint("pages", __name__)

KIB = 1024


@bp.app_template_filter("filesize")
def file_size(value: Any) -> str:
    """Bytes for people: 1 KB = 1024 B, one decimal (app.js ``fileSize`` says the same)."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        return ""
    if size < KIB:
        return f"{size} B"
    for unit, scale in (("KB", KIB), ("MB", KIB**2), ("GB", KIB**3)):
        # Rounded first: 1048575 B is "1.0 MB", not "1024.0 KB".
        if round(size / scale, 1) < KIB or unit == "GB":
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"  # pragma: no cover  (the loop always returns)


#: file states the pages name (the case states are in i18n.LABELS)
FILE_STATES = {
    "uploaded": _l("uploaded"),
    "queued": _l("queued"),
    "running": _l("running"),
    "processed": _l("processed"),
    "failed": _l("failed"),
    "excluded": _l("excluded"),
    "ok": _l("ready"),
    "leak": _l("withheld"),
    "error": _l("withheld"),
}

#: what app.js writes into the page, in the reader's language
SCRIPT_MESSAGES = {
    "uploading": _l("uploading…"),
    "uploaded": _l("uploaded"),
    "upload_failed": _l("Upload failed: %(reason)s"),
    "network_error": _l("the connection failed"),
    "confirm_upload_in_review": _l(
        "This case is in review. Adding a file sends it back to draft: it must be processed again "
        "before it can be approved. Upload?"
    ),
    "back_to_draft": _l("The case went back to draft: submit it again to process the new files."),
    "confirm_delete": _l("Remove %(name)s from the case?"),
    "confirm_archive": _l("Archive this case? It leaves the case list and accepts no change until restored."),
    "submitted": _l("Submitted; processing runs in the background."),
    "archived": _l("The case was archived."),
    "unarchived": _l("The case was restored."),
    "policy_saved": _l("Saved as version %(version)s."),
    "customers_added": _l("%(added)s customer(s) added; saved as version %(version)s."),
    "choose_customers": _l("Choose a CSV or XLSX file first."),
    "remove": _l("Remove"),
    "review": _l("Review"),
    "shown_as": _l("shown as “%(name)s”"),
    "no_ocr": _l("no OCR"),
    "ocr": _l("OCR: %(images)s image(s), confidence mean %(mean)s, lowest %(low)s"),
    "needs_review": _l("needs review"),
    "withheld": _l("withheld: %(reason)s"),
    "findings": _l("%(count)s finding(s)"),
    "show_terms": _l("Terms found"),
    "more_findings": _l("Show more findings"),
    "times": _l("×%(count)s"),
}


def script_messages() -> dict[str, str]:
    labels = {f"state_{k}": str(v) for k, v in FILE_STATES.items()}
    for state in ("draft", "processing", "review", "sealing", "sealed", "failed"):
        labels[f"case_{state}"] = label(state)
    for recipient in cases.RECIPIENTS:
        labels[f"recipient_{recipient}"] = label(recipient)
    return {**{k: str(v) for k, v in SCRIPT_MESSAGES.items()}, **labels}


@bp.get("/")
@login_required
def home() -> Any:
    if g.actor.role == "applicant":
        return redirect(url_for("pages.case_list"))
    if g.actor.role in ("supplier", "bureau"):
        return redirect(url_for("inbox_pages.inbox"))
    return redirect(url_for("pages.bundle_list"))


@bp.route("/cases", methods=["GET", "POST"])
@login_required
def case_list() -> Any:
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    error = None
    show_archived = request.args.get("archived") == "1"
    if request.method == "POST":
        try:
            case = cases.create_case(
                ctx,
                request.form.get("title", ""),
                request.form.get("supplier_org", ""),
                request.form.get("bureau_org", ""),
            )
            ctx.commit()
            return redirect(url_for("pages.case_page", case_id=case.id))
        except DomainError as exc:
            ctx.session.rollback()
            error = exc.message
    return render_template(
        "cases.html",
        cases=cases.list_cases_filtered(ctx, include_archived=show_archived),
        archived_count=sum(1 for c in cases.list_cases(ctx) if c.archived_at is not None),
        show_archived=show_archived,
        suppliers=cases.list_organisations(ctx, "supplier"),
        bureaus=cases.list_organisations(ctx, "bureau"),
        error=error,
        form=request.form,
    ), (422 if error else 200)


@bp.get("/cases/<case_id>")
@login_required
def case_page(case_id: str) -> Any:
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    case = cases.get_case(ctx, case_id)
    policy = cases.current_policy(ctx, case)
    state = cases.case_state(ctx, case)
    return render_template(
        "case.html",
        case=case,
        view=cases.case_view(ctx, case),
        state=state,
        actions=frozenset(state["actions"]),
        timeline=timeline_entries(cases.timeline(ctx, case)),
        file_states=FILE_STATES,
        messages=script_messages(),
        policy_text=policy.source_text if policy else DEFAULT_POLICY,
    )


def _approve_page(ctx: ServiceContext, case: Case, error: str | None = None, status: int = 200) -> Any:
    summary = approval.approval_summary(ctx, case.id)
    return render_template("approve.html", case=case, summary=summary, error=error), status


@bp.get("/cases/<case_id>/approve")
@login_required
def approve_page(case_id: str) -> Any:
    """What each recipient would receive, and the confirmation that approves."""
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    return _approve_page(ctx, cases.get_case(ctx, case_id))


@bp.post("/cases/<case_id>/approve")
@login_required
def approve_confirmed(case_id: str) -> Any:
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    case = cases.get_case(ctx, case_id)
    if request.form.get("confirm") != "yes":
        error = _("Tick the box to confirm that you have reviewed what each recipient receives.")
        return _approve_page(ctx, case, error, 422)
    try:
        cases.approve(ctx, case.id)
        ctx.commit()
    except DomainError as exc:
        ctx.session.rollback()
        return _approve_page(ctx, cases.get_case(ctx, case_id), exc.message, exc.status)
    flash(_("Approved: the bundles are being sealed."), "info")
    return redirect(url_for("pages.case_page", case_id=case.id))


def _timeline_text(event: dict[str, Any]) -> str:
    action, ok, detail = event["action"], event["outcome"] == "ok", event["detail"]
    org = event["organisation"] or ""
    if action == "case.created":
        return _("Case created")
    if action == "case.submitted":
        return _("Submitted for processing")
    if action == "case.processed":
        return _("Processed: ready for review") if ok else _("Processing failed")
    if action == "case.approved":
        return _("Approved by %(who)s", who=event["actor"] or org)
    if action == "case.sealed":
        return _("Sealed, version %(version)s", version=detail.get("version")) if ok else _("Sealing failed")
    if action == "bundle.download":
        return _("Downloaded by %(org)s", org=org)
    if action == "case.information_requested":
        return _("%(org)s requested more information", org=org)
    if action == "case.bureau_status":
        status = str(detail.get("status") or detail.get("bureau_status") or "")
        return str(BUREAU_STATES.get(status, _l("%(org)s set the status to “%(status)s”"))) % {
            "org": org,
            "status": status,
        }
    if action == "case.supplement_started":
        return _("Supplement started, version %(version)s", version=detail.get("version", ""))
    if action == "case.archived":
        return _("Archived")
    if action == "case.unarchived":
        return _("Restored from the archive")
    return action


#: the bureau's statements about the application, as timeline lines
BUREAU_STATES = {
    "under_review": _l("%(org)s set the status: under review"),
    "information_requested": _l("%(org)s set the status: information requested"),
    "approved": _l("%(org)s set the status: approved"),
    "rejected": _l("%(org)s set the status: rejected"),
}


def timeline_entries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "at": utc_time(e["at"]),
            "iso": e["at"],
            "action": e["action"],
            "ok": e["outcome"] == "ok",
            "text": _timeline_text(e),
        }
        for e in events
    ]


@bp.get("/cases/<case_id>/access-log")
@login_required
def access_log_page(case_id: str) -> Any:
    ctx = service_context()
    log = access_log.case_access_log(ctx, case_id)
    ctx.commit()
    return render_template("access_log.html", log=log, case=cases.get_case(ctx, case_id))


@bp.get("/bundles")
@login_required
def bundle_list() -> Any:
    return render_template("bundles.html", bundles=sharing.list_bundles(service_context()))


DEFAULT_POLICY = """version: 1
name: Export licence application
terms:
  customers: []        # e.g. ["Kestrel Dynamics GmbH"]
  trade_secrets: []    # e.g. ["grain boundary diffusion"]
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET, PERSON, EMAIL_ADDRESS, PHONE_NUMBER]
"""
