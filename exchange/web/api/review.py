"""The applicant's review: decisions on findings, manual boxes and text selections (issue 10).

Adapters only: each route parses its input, calls one service in
:mod:`exchange.services.review` and answers JSON. Changes take effect on the
next ``POST /cases/{id}/submit``, which re-processes only the files they touch.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from exchange.services import review
from exchange.web.api.common import api_blueprint, json_body
from exchange.web.api.openapi import CASE_ID, _errors, _resp
from exchange.web.auth import login_required
from exchange.web.wiring import service_context

bp = api_blueprint("api_review", __name__)


@bp.patch("/cases/<case_id>/findings/<finding_id>")
@login_required
def decide_finding(case_id: str, finding_id: str) -> Any:
    ctx = service_context()
    review.authorise_change(ctx, case_id)  # before the body is judged: a stranger learns nothing
    body = json_body()
    view = review.decide_finding(
        ctx,
        case_id,
        finding_id,
        recipient=body.get("recipient"),
        decision=body.get("decision"),
        scope=body.get("scope"),
    )
    ctx.commit()
    return jsonify(view)


@bp.post("/cases/<case_id>/findings/<finding_id>/declare")
@login_required
def declare_finding(case_id: str, finding_id: str) -> Any:
    ctx = service_context()
    review.authorise_change(ctx, case_id)  # before the body is judged: a stranger learns nothing
    body = json_body()
    version = review.declare_finding(ctx, case_id, finding_id, body.get("as"))
    ctx.commit()
    return jsonify(version=version.version, sha256=version.content_hash)


@bp.get("/cases/<case_id>/files/<file_id>/boxes")
@login_required
def list_boxes(case_id: str, file_id: str) -> Any:
    return jsonify(boxes=review.list_boxes(service_context(), case_id, file_id))


@bp.post("/cases/<case_id>/files/<file_id>/boxes")
@login_required
def add_box(case_id: str, file_id: str) -> Any:
    ctx = service_context()
    review.authorise_change(ctx, case_id)  # before the body is judged: a stranger learns nothing
    body = json_body()
    box = review.add_box(
        ctx, case_id, file_id, page=body.get("page"), box=body.get("box"), recipients=body.get("recipients")
    )
    ctx.commit()
    return jsonify(id=box.id), 201


@bp.delete("/cases/<case_id>/files/<file_id>/boxes/<box_id>")
@login_required
def delete_box(case_id: str, file_id: str, box_id: str) -> Any:
    ctx = service_context()
    review.delete_box(ctx, case_id, file_id, box_id)
    ctx.commit()
    return "", 204


@bp.post("/cases/<case_id>/files/<file_id>/selections")
@login_required
def select_text(case_id: str, file_id: str) -> Any:
    ctx = service_context()
    review.authorise_change(ctx, case_id)  # before the body is judged: a stranger learns nothing
    body = json_body()
    stored = review.select_text(
        ctx, case_id, file_id, text=body.get("text"), recipients=body.get("recipients")
    )
    ctx.commit()
    return jsonify(ids=[d.id for d in stored], decisions=[review.decision_view(d) for d in stored]), 201


@bp.get("/cases/<case_id>/decisions")
@login_required
def list_decisions(case_id: str) -> Any:
    return jsonify(decisions=review.list_decisions(service_context(), case_id, request.args.get("file")))


@bp.delete("/cases/<case_id>/decisions/<decision_id>")
@login_required
def undo_decision(case_id: str, decision_id: str) -> Any:
    ctx = service_context()
    review.undo_decision(ctx, case_id, decision_id)
    ctx.commit()
    return "", 204


# -- OpenAPI ------------------------------------------------------------------------------

_RECIPIENT = {"enum": ["supplier", "bureau"]}
_RECIPIENTS = {
    "type": "array",
    "minItems": 1,
    "items": _RECIPIENT,
    "description": "Recipients the change applies to",
}
_ID = {"type": "object", "properties": {"id": {"type": "string"}}}
_NEXT_SUBMIT = " Takes effect on the next submit, which re-processes only the files it touches; a case in "
_NEXT_SUBMIT += "review returns to draft."

_FINDING = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "file_id": {"type": "string"},
        "page": {"type": ["integer", "null"]},
        "entity_type": {"type": "string"},
        "text": {"type": "string"},
        "decisions": {
            "type": "object",
            "description": "Per recipient, redact or keep as the next run applies it (review included)",
            "additionalProperties": {"enum": ["redact", "keep"]},
        },
        "reviewed": {
            "type": "object",
            "description": "Per recipient, the applicant's own decision on this value in this file, if any",
            "additionalProperties": {"enum": ["redact", "keep"]},
        },
        "pending": {
            "type": "boolean",
            "description": "True while the file's outputs do not reflect its review and the policy yet "
            "(they take effect on the next submit)",
        },
    },
}
_DECISION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "file_id": {"type": "string"},
        "recipient": _RECIPIENT,
        "value": {"type": "string"},
        "decision": {"enum": ["redact", "keep"]},
        "entity_type": {"type": "string", "description": "MANUAL for a text selection"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
_BOX = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "file_id": {"type": "string"},
        "page": {"type": "integer", "minimum": 1},
        "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
        "recipients": _RECIPIENTS,
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def _path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    file_id, finding_id = _path("file_id"), _path("finding_id", "integer")
    return {
        "/cases/{case_id}/findings/{finding_id}": {
            "patch": {
                "summary": "Keep or redact a finding's value for a recipient (applicant)",
                "description": "Applies to every occurrence of the value in the finding's file, or with "
                '"scope": "term" in every file of the case where it was found.' + _NEXT_SUBMIT,
                "parameters": [CASE_ID, finding_id],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["recipient", "decision"],
                        "properties": {
                            "recipient": {"enum": ["supplier", "bureau", "*"]},
                            "decision": {"enum": ["redact", "keep"]},
                            "scope": {"enum": ["file", "term"], "default": "file"},
                        },
                    }
                ),
                "responses": {
                    "200": _resp("The finding as the findings list now shows it", _FINDING),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/cases/{case_id}/findings/{finding_id}/declare": {
            "post": {
                "summary": "Add a finding's text to the policy's declared customers or trade secrets",
                "description": "Saves a new policy version; every file runs again on the next submit.",
                "parameters": [CASE_ID, finding_id],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["as"],
                        "properties": {"as": {"enum": ["customer", "trade_secret"]}},
                    }
                ),
                "responses": {
                    "200": _resp(
                        "The policy version now current",
                        {
                            "type": "object",
                            "properties": {"version": {"type": "integer"}, "sha256": {"type": "string"}},
                        },
                    ),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/cases/{case_id}/files/{file_id}/boxes": {
            "get": {
                "summary": "Manual boxes on a file (applicant)",
                "parameters": [CASE_ID, file_id],
                "responses": {
                    "200": _resp(
                        "Boxes", {"type": "object", "properties": {"boxes": {"type": "array", "items": _BOX}}}
                    ),
                    **_errors(401, 403, 404),
                },
            },
            "post": {
                "summary": "Box a region of a PDF page or an image by hand (applicant)",
                "description": "The box is [left, top, right, bottom] in fractions of the page's width and "
                "height, origin top left. Refused for other file types: select the text instead."
                + _NEXT_SUBMIT,
                "parameters": [CASE_ID, file_id],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["page", "box", "recipients"],
                        "properties": {
                            "page": {"type": "integer", "minimum": 1},
                            "box": {
                                "type": "array",
                                "items": {"type": "number"},
                                "minItems": 4,
                                "maxItems": 4,
                            },
                            "recipients": _RECIPIENTS,
                        },
                    }
                ),
                "responses": {"201": _resp("Created", _ID), **_errors(400, 401, 403, 404, 409, 422)},
            },
        },
        "/cases/{case_id}/files/{file_id}/boxes/{box_id}": {
            "delete": {
                "summary": "Remove a manual box",
                "parameters": [CASE_ID, file_id, _path("box_id")],
                "responses": {"204": _resp("Removed"), **_errors(401, 403, 404, 409)},
            }
        },
        "/cases/{case_id}/files/{file_id}/selections": {
            "post": {
                "summary": "Redact a selected text wherever it occurs in the file (applicant)",
                "description": "Stored as a redact decision of type MANUAL per recipient." + _NEXT_SUBMIT,
                "parameters": [CASE_ID, file_id],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["text", "recipients"],
                        "properties": {
                            "text": {"type": "string", "maxLength": 500},
                            "recipients": _RECIPIENTS,
                        },
                    }
                ),
                "responses": {
                    "201": _resp(
                        "The stored decisions",
                        {
                            "type": "object",
                            "properties": {
                                "ids": {"type": "array", "items": {"type": "integer"}},
                                "decisions": {"type": "array", "items": _DECISION},
                            },
                        },
                    ),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/cases/{case_id}/decisions": {
            "get": {
                "summary": "The review's decisions, by file in upload order (applicant)",
                "parameters": [CASE_ID, {"name": "file", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": _resp(
                        "Decisions",
                        {
                            "type": "object",
                            "properties": {"decisions": {"type": "array", "items": _DECISION}},
                        },
                    ),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/cases/{case_id}/decisions/{decision_id}": {
            "delete": {
                "summary": "Undo a decision or text selection",
                "parameters": [CASE_ID, _path("decision_id", "integer")],
                "responses": {"204": _resp("Removed"), **_errors(401, 403, 404, 409)},
            }
        },
    }
