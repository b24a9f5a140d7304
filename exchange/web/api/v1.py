"""JSON API v1. Route names and shapes are a contract for outside clients.

Authentication: ``Authorization: Bearer <token>`` (no CSRF needed: no
ambient credential), or the browser's session cookie together with an
``X-CSRFToken`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request, stream_with_context

from exchange.domain.detection import policy_schema
from exchange.domain.errors import DomainError, InvalidInput
from exchange.models import Case, CaseFile
from exchange.services import access_log, approval, cases, sharing, uploads
from exchange.services.context import ServiceContext
from exchange.web.api.common import api_blueprint, json_body
from exchange.web.api.openapi import openapi_document
from exchange.web.auth import login_required
from exchange.web.uploads import StreamingForm, streaming_upload, upload_slot
from exchange.web.wiring import service_context

bp = api_blueprint("api_v1", __name__)

MAX_POLICY_BYTES = 256 * 1024


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


@bp.get("/policy-schema.json")
def policy_schema_json() -> Any:
    return jsonify(policy_schema())


@bp.get("/signing-key")
def signing_key() -> Any:
    return Response(sharing.signing_public_key(service_context()), mimetype="application/x-pem-file")


@bp.post("/cases")
@login_required
def create_case() -> Any:
    body = json_body()
    ctx = service_context()
    case = cases.create_case(ctx, body.get("title"), body.get("supplier_org"), body.get("bureau_org"))
    ctx.commit()
    return jsonify(id=case.id), 201


@bp.get("/cases")
@login_required
def list_cases() -> Any:
    ctx = service_context()
    # Archived cases are set aside: listed only when asked for (?archived=1).
    include = request.args.get("archived", "") in ("1", "true", "yes")
    return jsonify(
        cases=[
            {"id": c.id, "title": c.title, "status": c.status, "archived": c.archived_at is not None}
            for c in cases.list_cases_filtered(ctx, include_archived=include)
        ]
    )


@bp.get("/cases/<case_id>")
@login_required
def get_case(case_id: str) -> Any:
    ctx = service_context()
    case = cases.get_case(ctx, case_id)
    view = cases.case_view(ctx, case)
    by_id = {row.id: row for row in case.files}
    for file in view["files"]:
        _add_output_summaries(file, by_id[file["id"]])
    view.update(cases.case_state(ctx, case))
    return jsonify(view)


@bp.get("/cases/<case_id>/approval-summary")
@login_required
def approval_summary(case_id: str) -> Any:
    return jsonify(approval.approval_summary(service_context(), case_id))


@bp.post("/cases/<case_id>/archive")
@login_required
def archive_case(case_id: str) -> Any:
    ctx = service_context()
    case = cases.archive(ctx, case_id)
    ctx.commit()
    return jsonify(id=case.id, archived=True)


@bp.post("/cases/<case_id>/unarchive")
@login_required
def unarchive_case(case_id: str) -> Any:
    ctx = service_context()
    case = cases.unarchive(ctx, case_id)
    ctx.commit()
    return jsonify(id=case.id, archived=False)


@bp.get("/organisations")
@login_required
def organisations() -> Any:
    ctx = service_context()
    return jsonify(organisations=cases.list_organisations(ctx, request.args.get("kind")))


@bp.get("/cases/<case_id>/findings")
@login_required
def case_findings(case_id: str) -> Any:
    ctx = service_context()
    args = request.args
    return jsonify(cases.list_findings(ctx, case_id, args.get("file"), args.get("cursor"), args.get("limit")))


def _add_output_summaries(file: dict[str, Any], row: CaseFile) -> None:
    """Per recipient: its file name, OCR, review and withheld facts, read from the engine report.

    Only the applicant reads a case, so the recipients' names sit next to the
    original here; reports older than the engine schema read as "no OCR".
    """
    withheld: list[str] = []
    for output in row.outputs:
        summary = report_summary(output.report)
        file["outputs"][output.recipient].update(name=output.name, **summary)
        if summary["withheld"]:
            withheld.append(f"{output.recipient}: {summary['withheld']}")
    file["needs_review"] = any(file["outputs"][r]["needs_review"] for r in file["outputs"])
    if withheld and "error" not in file:
        file["error"] = "withheld for " + "; ".join(sorted(withheld))


def report_summary(report: dict[str, Any] | None) -> dict[str, Any]:
    """The review-relevant part of a report (schema: ``exchange.domain.redaction.base.new_report``)."""
    report = report if isinstance(report, dict) else {}
    raw_ocr = report.get("ocr")
    ocr: dict[str, Any] = raw_ocr if isinstance(raw_ocr, dict) else {}
    low = ocr.get("low_confidence_images", 0)
    withheld = report.get("withheld")
    return {
        "ocr": {
            "used": bool(ocr.get("used", False)),
            "images": int(ocr.get("images") or 0),
            "mean_confidence": ocr.get("mean_confidence"),
            "min_confidence": ocr.get("min_confidence"),
            # engines may list the images (pages) or count them
            "low_confidence_images": len(low) if isinstance(low, list) else int(low or 0),
        },
        "needs_review": bool(report.get("needs_review", False)),
        "review_reasons": [str(r) for r in report.get("review_reasons") or []],
        "withheld": str(withheld) if withheld else None,
        "warnings": [str(w) for w in report.get("warnings") or []],
    }


@bp.put("/cases/<case_id>/policy")
@login_required
def put_policy(case_id: str) -> Any:
    if (request.content_length or 0) > MAX_POLICY_BYTES:
        raise InvalidInput(f"a policy is at most {MAX_POLICY_BYTES // 1024} KiB")
    raw = request.get_data(cache=False)[: MAX_POLICY_BYTES + 1]
    if len(raw) > MAX_POLICY_BYTES:
        raise InvalidInput(f"a policy is at most {MAX_POLICY_BYTES // 1024} KiB")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError("the policy must be UTF-8 text (YAML or JSON)") from None
    ctx = service_context()
    version = cases.set_policy(ctx, case_id, body)
    ctx.commit()
    return jsonify(version=version.version, sha256=version.content_hash)


@bp.get("/cases/<case_id>/policy")
@login_required
def get_policy(case_id: str) -> Any:
    ctx = service_context()
    policy = cases.current_policy(ctx, cases.get_case(ctx, case_id))
    if policy is None:
        return jsonify(error="the case has no policy yet"), 404
    return jsonify(version=policy.version, sha256=policy.content_hash, text=policy.source_text)


@bp.post("/cases/<case_id>/policy/customers")
@login_required
def import_customers(case_id: str) -> Any:
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("send the CSV or XLSX file as multipart/form-data in the field 'file'")
    ctx = service_context()
    version, added = cases.import_customers(
        ctx, case_id, upload.stream.read(), upload.filename, request.form.get("column")
    )
    ctx.commit()
    return jsonify(version=version.version, sha256=version.content_hash, added=added)


@bp.post("/cases/<case_id>/files")
@login_required
@streaming_upload("api_v1.upload_file")
@upload_slot
def upload_file(case_id: str) -> Any:
    name, chunks = StreamingForm.from_request(request).file_chunks()
    ctx = service_context()
    received = uploads.receive_upload(ctx, case_id, name, chunks)
    try:
        ctx.commit()
    except BaseException:
        uploads.discard(ctx, received)
        raise
    row = received.row
    g.upload_bytes = received.size
    return jsonify(id=row.id, name=row.name, size=row.size, sha256=row.sha256, media_type=row.media_type), 201


@bp.delete("/cases/<case_id>/files/<file_id>")
@login_required
def delete_file(case_id: str, file_id: str) -> Any:
    ctx = service_context()
    cases.delete_file(ctx, case_id, file_id)
    ctx.commit()
    return "", 204


def _accepted(action: Callable[[ServiceContext, str], Case], case_id: str) -> Any:
    """Run a state change whose jobs go to the outbox; 202 once committed (the broker may be down).

    A concurrent duplicate is answered 409 by the service's conditional UPDATE.
    """
    ctx = service_context()
    case = action(ctx, case_id)
    ctx.commit()
    return jsonify(id=case.id, status=case.status), 202


@bp.post("/cases/<case_id>/submit")
@login_required
def submit(case_id: str) -> Any:
    return _accepted(cases.submit, case_id)


@bp.post("/cases/<case_id>/approve")
@login_required
def approve(case_id: str) -> Any:
    return _accepted(cases.approve, case_id)


@bp.get("/cases/<case_id>/access-log")
@login_required
def case_access_log(case_id: str) -> Any:
    ctx = service_context()
    log = access_log.case_access_log(ctx, case_id)
    ctx.commit()
    return jsonify(log)


@bp.get("/bundles")
@login_required
def bundles() -> Any:
    return jsonify(bundles=sharing.list_bundles(service_context()))


@bp.get("/bundles/<bundle_id>/download")
@login_required
def download(bundle_id: str) -> Any:
    bundle, chunks = sharing.open_download(service_context(), bundle_id)
    response = Response(stream_with_context(chunks), mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(bundle.size)
    response.headers["Content-Disposition"] = f'attachment; filename="bundle-{bundle.id}.tar.age"'
    response.headers["X-Bundle-SHA256"] = bundle.sha256
    return response
