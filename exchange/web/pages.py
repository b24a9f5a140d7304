"""Server-rendered pages. Data changes go through the JSON API from app.js."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from exchange.domain.errors import DomainError
from exchange.services import access_log, cases, sharing
from exchange.web.auth import login_required
from exchange.web.wiring import service_context

bp = Blueprint("pages", __name__)


@bp.get("/")
@login_required
def home() -> Any:
    if g.actor.role == "applicant":
        return redirect(url_for("pages.case_list"))
    return redirect(url_for("pages.bundle_list"))


@bp.route("/cases", methods=["GET", "POST"])
@login_required
def case_list() -> Any:
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    error = None
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
    return render_template("cases.html", cases=cases.list_cases(ctx), error=error, form=request.form), (
        422 if error else 200
    )


@bp.get("/cases/<case_id>")
@login_required
def case_page(case_id: str) -> Any:
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    case = cases.get_case(ctx, case_id)
    policy = cases.current_policy(ctx, case)
    return render_template(
        "case.html",
        case=case,
        view=cases.case_view(ctx, case),
        policy_text=policy.source_text if policy else DEFAULT_POLICY,
    )


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
