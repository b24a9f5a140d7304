"""The review page: a file's original page beside a recipient's redacted page, and the tools to fix it.

Server-rendered with the state known now (files, page, view, rendering
status); ``static/review.js`` adds the findings list, counts, marks, box
drawing and the review actions, all through the JSON API. The case's
applicant only: originals are never shown to anyone else.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request

from exchange.domain.errors import NotFound
from exchange.services import cases, previews
from exchange.web.auth import login_required
from exchange.web.wiring import service_context

bp = Blueprint("review_pages", __name__)

#: media types manual boxes apply to (the review service refuses others); text files get "redact this text"
BOXABLE_PREFIXES = ("application/pdf", "image/")


@bp.get("/cases/<case_id>/review")
@login_required
def review(case_id: str) -> Any:
    ctx = service_context()
    if g.actor.role != "applicant":
        abort(403)
    case = cases.get_case(ctx, case_id)
    files = list(case.files)
    wanted = request.args.get("file")
    chosen = next((f for f in files if f.id == wanted), None) if wanted else (files[0] if files else None)
    if wanted and chosen is None:
        raise NotFound("no such file in this case")
    view = request.args.get("view", "supplier")
    if view not in cases.RECIPIENTS:
        view = "supplier"
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    summary = previews.page_summary(ctx, case.id, chosen.id) if chosen is not None else None
    if summary is not None and summary["pages"] and page > summary["pages"]:
        page = summary["pages"]
    return render_template(
        "review.html",
        case=case,
        files=files,
        file=chosen,
        view=view,
        page=page,
        summary=summary,
        recipients=cases.RECIPIENTS,
        boxable=chosen is not None and chosen.media_type.startswith(BOXABLE_PREFIXES),
    )
