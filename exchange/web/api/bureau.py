"""The bureau's side of a case: information requests, status, supplements, bundle versions and the inbox.

Adapters only: each handler parses its input, calls one service in
:mod:`exchange.services.bureau` and answers JSON. Who may see what is
decided there (recipients only for cases they received bundles for; request
messages only for the applicant and the bureau).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from exchange.services import bureau, cases
from exchange.web.api.common import api_blueprint, json_body
from exchange.web.auth import login_required
from exchange.web.wiring import service_context

bp = api_blueprint("api_bureau", __name__)


@bp.get("/inbox")
@login_required
def inbox() -> Any:
    return jsonify(cases=bureau.inbox(service_context()))


@bp.post("/cases/<case_id>/information-requests")
@login_required
def request_information(case_id: str) -> Any:
    body = json_body()
    ctx = service_context()
    row = bureau.request_information(ctx, case_id, body.get("message"))
    ctx.commit()
    return jsonify(id=row.id), 201


@bp.get("/cases/<case_id>/information-requests")
@login_required
def information_requests(case_id: str) -> Any:
    return jsonify(requests=bureau.list_requests(service_context(), case_id))


@bp.put("/cases/<case_id>/bureau-status")
@login_required
def bureau_status(case_id: str) -> Any:
    body = json_body()
    ctx = service_context()
    case = bureau.set_status(ctx, case_id, body.get("status"))
    ctx.commit()
    return jsonify(case_id=case.id, bureau_status=case.bureau_status)


@bp.post("/cases/<case_id>/supplement")
@login_required
def supplement(case_id: str) -> Any:
    ctx = service_context()
    case = bureau.start_supplement(ctx, case_id)
    ctx.commit()
    return jsonify(cases.case_view(ctx, case))


@bp.get("/cases/<case_id>/versions")
@login_required
def versions(case_id: str) -> Any:
    return jsonify(bureau.versions(service_context(), case_id))


CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
ERROR = {"$ref": "#/components/schemas/Error"}
STATUS = {
    "type": "string",
    "enum": ["under_review", "information_requested", "approved", "rejected"],
    "description": "the bureau's statement about the application",
}
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with its zone"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    member = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "the member's name in the bundle (redacted for you)"},
            "size": {"type": "integer"},
            "version": {"type": "integer", "description": "the case version the file came with"},
        },
    }
    version = {
        "type": "object",
        "properties": {
            "version": {"type": "integer"},
            "bundle_id": {"type": "string"},
            "previous_id": {"type": ["string", "null"], "description": "this recipient's bundle it follows"},
            "recipient": {"type": "string", "enum": ["supplier", "bureau"]},
            "organisation": {"type": "string"},
            "size": {"type": "integer", "description": "bytes of the sealed bundle"},
            "sha256": {"type": "string"},
            "manifest_sha256": {"type": "string"},
            "file_count": {"type": "integer"},
            "files": {"type": ["array", "null"], "items": member, "description": "null for old bundles"},
            "created_at": TIME,
            "filename": {"type": "string"},
            "downloaded": {"type": "boolean"},
            "download_count": {"type": "integer"},
            "downloaded_at": {"anyOf": [TIME, {"type": "null"}], "description": "the last download"},
        },
    }
    request = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "version": {"type": "integer", "description": "the case version the request is about"},
            "message": {"type": "string"},
            "created_at": TIME,
            "open": {"type": "boolean"},
            "answered_version": {"type": ["integer", "null"]},
            "answered_at": {"anyOf": [TIME, {"type": "null"}]},
        },
    }
    card = {
        "type": "object",
        "properties": {
            "case_id": {"type": "string"},
            "sender": {"type": "string", "description": "the applicant organisation"},
            "case_title": {"type": "string", "description": "the title as your bundle has it"},
            "bureau_status": STATUS,
            "latest_version": {"type": "integer"},
            "updated_at": TIME,
            "versions": {"type": "array", "items": version, "description": "oldest first"},
            "information_requests": {
                "type": "object",
                "description": "how many requests are open and since when (no messages)",
                "properties": {"open": {"type": "integer"}, "since": {"anyOf": [TIME, {"type": "null"}]}},
            },
            "requests": {"type": "array", "items": request, "description": "the bureau only"},
            "can_request": {"type": "boolean", "description": "the bureau only"},
            "can_set_status": {"type": "boolean", "description": "the bureau only"},
        },
    }
    denied = {
        "401": _error("Not authenticated"),
        "404": _error("Unknown case, or not one you received a bundle for"),
    }
    return {
        "/inbox": {
            "get": {
                "summary": "Cases shared with you, with their versions and status (supplier, bureau)",
                "responses": {
                    "200": _json(
                        "Cases, newest activity first",
                        {"type": "object", "properties": {"cases": {"type": "array", "items": card}}},
                    ),
                    "401": _error("Not authenticated"),
                    "403": _error("Not a supplier or bureau user"),
                },
            }
        },
        "/cases/{case_id}/information-requests": {
            "post": {
                "summary": "Ask the applicant for more information (the case's bureau, sealed case)",
                "description": "Sets the bureau status to information_requested. The message is shown "
                "to the applicant and never written to the access log.",
                "parameters": [CASE_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["message"],
                                "properties": {
                                    "message": {"type": "string", "minLength": 1, "maxLength": 4000}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(
                        "Request recorded", {"type": "object", "properties": {"id": {"type": "string"}}}
                    ),
                    "400": _error("Malformed JSON"),
                    "422": _error("Empty or too long message"),
                    "403": _error("Not the case's bureau"),
                    "409": _error("The case is not sealed now (e.g. a supplement is being prepared)"),
                    **denied,
                },
            },
            "get": {
                "summary": "The bureau's requests with their messages (the applicant and the bureau)",
                "parameters": [CASE_ID],
                "responses": {
                    "200": _json(
                        "Requests, oldest first",
                        {"type": "object", "properties": {"requests": {"type": "array", "items": request}}},
                    ),
                    "403": _error("The supplier: messages are between the bureau and the applicant"),
                    **denied,
                },
            },
        },
        "/cases/{case_id}/bureau-status": {
            "put": {
                "summary": "Set the bureau's status of the application (the case's bureau)",
                "parameters": [CASE_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": STATUS},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        "Status set",
                        {
                            "type": "object",
                            "properties": {"case_id": {"type": "string"}, "bureau_status": STATUS},
                        },
                    ),
                    "400": _error("Malformed JSON"),
                    "422": _error("Unknown status"),
                    "403": _error("Not the case's bureau"),
                    "409": _error("The case is not sealed now"),
                    **denied,
                },
            }
        },
        "/cases/{case_id}/supplement": {
            "post": {
                "summary": "Start a supplement: the case becomes a draft of its next version (applicant)",
                "description": "Allowed only while the bureau has requested information. Upload, submit "
                "and approve as before; sealing produces a new bundle per recipient, linked to the "
                "previous one and holding every file of the case.",
                "parameters": [CASE_ID],
                "responses": {
                    "200": _json("The case, now a draft of the next version", {"type": "object"}),
                    "403": _error("Not an applicant"),
                    "409": _error("No information was requested, or the case is not sealed"),
                    **denied,
                },
            }
        },
        "/cases/{case_id}/versions": {
            "get": {
                "summary": "Bundle versions in order (the applicant: all; a recipient: its own)",
                "parameters": [CASE_ID],
                "responses": {
                    "200": _json(
                        "Versions, oldest first",
                        {
                            "type": "object",
                            "properties": {
                                "case_id": {"type": "string"},
                                "bureau_status": {"anyOf": [STATUS, {"type": "null"}]},
                                "version": {"type": "integer", "description": "the applicant only"},
                                "status": {"type": "string", "description": "the applicant only"},
                                "versions": {"type": "array", "items": version},
                            },
                        },
                    ),
                    **denied,
                },
            }
        },
    }
