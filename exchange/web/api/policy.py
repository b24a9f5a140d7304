"""The policy editor's helpers: a live pattern test and a customer list's columns (issue 10).

Both answer signed-in applicants only and store nothing: the sample text and
the uploaded list are read, answered and dropped.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from exchange.domain.detection.customer_import import list_columns
from exchange.domain.detection.policy_form import MAX_SAMPLE_CHARS, MAX_SAMPLE_MATCHES, pattern_matches
from exchange.domain.errors import DomainError, Forbidden, InvalidInput
from exchange.domain.filetypes import display_name
from exchange.web.api.common import api_blueprint, json_body
from exchange.web.api.openapi import _errors, _resp
from exchange.web.auth import login_required

bp = api_blueprint("api_policy", __name__)


def _applicant() -> None:
    if g.actor.role != "applicant":
        raise Forbidden("only applicants write policies")


@bp.post("/policy/pattern-test")
@login_required
def pattern_test() -> Any:
    _applicant()
    body = json_body()
    pattern, text = body.get("pattern"), body.get("text", "")
    if not isinstance(pattern, str) or not isinstance(text, str):
        raise DomainError('send {"pattern": string, "text": string}')
    try:
        spans, truncated = pattern_matches(pattern, text)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    return jsonify(matches=[list(span) for span in spans], truncated=truncated)


@bp.post("/policy/customer-columns")
@login_required
def customer_columns() -> Any:
    _applicant()
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("send the CSV or XLSX file as multipart/form-data in the field 'file'")
    columns, suggested = list_columns(upload.stream.read(), display_name(upload.filename))
    return jsonify(
        columns=[
            {"key": c.key, "header": c.header, "letter": c.letter, "sample": list(c.sample)} for c in columns
        ],
        suggested=suggested,
    )


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    span = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
    return {
        "/policy/pattern-test": {
            "post": {
                "summary": "Where a named pattern matches a sample text, as detection would find it (RE2)",
                "description": "Applicants only. Offsets are in Unicode code points, end exclusive; "
                f"at most {MAX_SAMPLE_CHARS} characters of text and {MAX_SAMPLE_MATCHES} matches. "
                "A pattern detection would refuse answers 400 with the reason.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["pattern", "text"],
                                "properties": {"pattern": {"type": "string"}, "text": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _resp(
                        "The matches",
                        {
                            "type": "object",
                            "properties": {
                                "matches": {"type": "array", "items": span},
                                "truncated": {"type": "boolean"},
                            },
                        },
                    ),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/policy/customer-columns": {
            "post": {
                "summary": "The columns of a customer list (CSV or XLSX), to choose the one to import",
                "description": "Applicants only. 'key' is what to send as 'column' to "
                "/cases/{case_id}/policy/customers; 'suggested' is the column chosen when none is given.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _resp(
                        "The columns",
                        {
                            "type": "object",
                            "properties": {
                                "columns": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "key": {"type": "string"},
                                            "header": {"type": "string"},
                                            "letter": {"type": "string"},
                                            "sample": {"type": "array", "items": {"type": "string"}},
                                        },
                                    },
                                },
                                "suggested": {"type": ["string", "null"]},
                            },
                        },
                    ),
                    **_errors(400, 401, 403, 422),
                },
            }
        },
    }
