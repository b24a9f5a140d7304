"""The OpenAPI 3.1 document for /api/v1, written by hand so it is the contract, not a by-product."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(
    description: str, schema: dict[str, Any] | None = None, media: str = "application/json"
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed request",
        401: "Not authenticated",
        403: "Wrong role",
        404: "Unknown id",
        409: "Not allowed in the current state",
        413: "Too large",
        422: "Invalid input",
    }
    return {str(c): _resp(text[c], ERROR) for c in codes}


CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "secure-exchange API",
            "version": "1",
            "description": "Per-recipient redaction of export-licence evidence, sealed age bundles, and a "
            "tamper-evident access log.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "NewCase": {
                    "type": "object",
                    "required": ["title", "supplier_org", "bureau_org"],
                    "properties": {
                        "title": {"type": "string"},
                        "supplier_org": {"type": "string"},
                        "bureau_org": {"type": "string"},
                    },
                },
                "File": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "size": {"type": "integer"},
                        "sha256": {"type": "string"},
                        "media_type": {"type": "string"},
                        "status": {"type": "string"},
                        "error": {
                            "type": "string",
                            "description": "Why the file failed, or why a recipient's output is withheld",
                        },
                        "finding_counts": {
                            "type": "object",
                            "description": "Findings of the last run per entity type; the findings "
                            "themselves are paged at /cases/{case_id}/findings",
                            "additionalProperties": {"type": "integer"},
                        },
                        "findings_total": {"type": "integer"},
                        "needs_review": {"type": "boolean"},
                        "outputs": {
                            "type": "object",
                            "description": "Per recipient (bureau, supplier); in case responses only",
                            "additionalProperties": {"$ref": "#/components/schemas/Output"},
                        },
                    },
                },
                "Output": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "description": "ok when verified and shareable"},
                        "size": {"type": "integer"},
                        "sha256": {"type": "string"},
                        "name": {
                            "type": ["string", "null"],
                            "description": "The file name as this recipient sees it (its policy applied)",
                        },
                        "ocr": {
                            "type": "object",
                            "properties": {
                                "used": {"type": "boolean"},
                                "images": {"type": "integer"},
                                "mean_confidence": {"type": ["number", "null"]},
                                "min_confidence": {"type": ["number", "null"]},
                                "low_confidence_images": {"type": "integer"},
                            },
                        },
                        "needs_review": {"type": "boolean"},
                        "review_reasons": {"type": "array", "items": {"type": "string"}},
                        "withheld": {"type": ["string", "null"]},
                        "warnings": {"type": "array", "items": {"type": "string"}},
                        "report": {"type": ["object", "null"], "description": "The engine's full report"},
                    },
                },
                "Case": {
                    "type": "object",
                    "required": ["id", "status", "progress", "files"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"enum": ["draft", "processing", "review", "sealing", "sealed", "failed"]},
                        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                        "files": {"type": "array", "items": {"$ref": "#/components/schemas/File"}},
                        "error": {"type": "string"},
                        "actions": {
                            "type": "array",
                            "description": "What the caller may do now (the lifecycle): upload, delete_file, "
                            "edit_policy, submit, review, approve, supplement, archive, unarchive",
                            "items": {"type": "string"},
                        },
                        "archived": {"type": "boolean"},
                        "archived_at": {"type": ["string", "null"], "format": "date-time"},
                        "bureau_status": {
                            "enum": ["under_review", "information_requested", "approved", "rejected", None]
                        },
                        "version": {"type": "integer", "description": "The bundle version being prepared"},
                    },
                },
                "Bundle": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "case_id": {"type": "string"},
                        "case_title": {
                            "type": "string",
                            "description": "The case title as the caller's organisation may see it "
                            "(redacted per its policy when the bundle was sealed)",
                        },
                        "recipient": {"type": "string"},
                        "organisation": {"type": "string"},
                        "size": {"type": "integer"},
                        "sha256": {"type": "string"},
                        "manifest_sha256": {"type": "string"},
                        "file_count": {"type": "integer"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "filename": {"type": "string"},
                    },
                },
            },
        },
        "paths": {
            "/cases": {
                "post": {
                    "summary": "Create a case (applicant)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewCase"}}},
                    },
                    "responses": {
                        "201": _resp("Created", {"type": "object", "properties": {"id": {"type": "string"}}}),
                        **_errors(400, 401, 403, 422),
                    },
                },
                "get": {
                    "summary": "Cases of the caller's organisation (archived ones only with ?archived=1)",
                    "parameters": [{"name": "archived", "in": "query", "schema": {"enum": ["0", "1"]}}],
                    "responses": {"200": _resp("Cases")},
                },
            },
            "/cases/{case_id}": {
                "get": {
                    "summary": "Case status, progress, files and finding counts",
                    "parameters": [CASE_ID],
                    "responses": {
                        "200": _resp("Case", {"$ref": "#/components/schemas/Case"}),
                        **_errors(401, 404),
                    },
                },
            },
            "/cases/{case_id}/findings": {
                "get": {
                    "summary": "A page of the case's findings, oldest first (applicant only)",
                    "parameters": [
                        CASE_ID,
                        {"name": "file", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "next_cursor of the previous page (opaque)",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "default": 200, "minimum": 1, "maximum": 1000},
                        },
                    ],
                    "responses": {
                        "200": _resp(
                            "Findings and the cursor of the next page (null on the last)",
                            {
                                "type": "object",
                                "properties": {
                                    "findings": {"type": "array", "items": {"type": "object"}},
                                    "next_cursor": {"type": ["string", "null"]},
                                },
                            },
                        ),
                        **_errors(400, 401, 404),
                    },
                },
            },
            "/cases/{case_id}/policy": {
                "put": {
                    "summary": "Set the redaction policy (YAML or JSON, see /policy-schema.json)",
                    "parameters": [CASE_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/yaml": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"type": "object"}},
                        },
                    },
                    "responses": {
                        "200": _resp("Stored as a new version"),
                        **_errors(400, 401, 403, 404, 409, 422),
                    },
                },
                "get": {
                    "summary": "The current policy",
                    "parameters": [CASE_ID],
                    "responses": {"200": _resp("Policy"), **_errors(401, 404)},
                },
            },
            "/cases/{case_id}/policy/customers": {
                "post": {
                    "summary": "Add the customers in a CSV/XLSX column (form field 'column') to the policy",
                    "parameters": [CASE_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "column": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _resp("New policy version"),
                        **_errors(400, 401, 403, 404, 409, 422),
                    },
                },
            },
            "/cases/{case_id}/files": {
                "post": {
                    "summary": "Upload a file (multipart field 'file')",
                    "parameters": [CASE_ID],
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
                        "201": _resp("Stored", {"$ref": "#/components/schemas/File"}),
                        **_errors(400, 401, 403, 404, 409, 413, 422),
                    },
                },
            },
            "/cases/{case_id}/files/{file_id}": {
                "delete": {
                    "summary": "Remove a file",
                    "parameters": [
                        CASE_ID,
                        {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": {"204": _resp("Removed"), **_errors(401, 403, 404, 409)},
                },
            },
            "/cases/{case_id}/submit": {
                "post": {
                    "summary": "Queue detection and redaction",
                    "parameters": [CASE_ID],
                    "responses": {"202": _resp("Queued"), **_errors(401, 403, 404, 409, 422)},
                },
            },
            "/cases/{case_id}/approve": {
                "post": {
                    "summary": "Seal and share one bundle per recipient",
                    "parameters": [CASE_ID],
                    "responses": {"202": _resp("Queued"), **_errors(401, 403, 404, 409)},
                },
            },
            **case_page_paths(),
            "/cases/{case_id}/access-log": {
                "get": {
                    "summary": "The case's hash-chained access log (applicant only)",
                    "parameters": [CASE_ID],
                    "responses": {"200": _resp("Events and chain verdict"), **_errors(401, 404)},
                },
            },
            "/bundles": {
                "get": {
                    "summary": "Bundles shared with the caller's organisation",
                    "responses": {
                        "200": _resp(
                            "Bundles",
                            {
                                "type": "object",
                                "properties": {
                                    "bundles": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Bundle"},
                                    }
                                },
                            },
                        )
                    },
                },
            },
            "/bundles/{bundle_id}/download": {
                "get": {
                    "summary": "The age-encrypted bundle, streamed",
                    "parameters": [
                        {"name": "bundle_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _resp(
                            "age file", {"type": "string", "format": "binary"}, "application/octet-stream"
                        ),
                        **_errors(401, 404),
                    },
                },
            },
            "/signing-key": {
                "get": {
                    "summary": "PEM public key that verifies manifest.sig in bundles",
                    "security": [],
                    "responses": {"200": _resp("PEM")},
                }
            },
            "/policy-schema.json": {
                "get": {
                    "summary": "JSON Schema of policy format v1",
                    "security": [],
                    "responses": {"200": _resp("JSON Schema")},
                }
            },
            **account_paths(),
            **feature_paths(),
        },
    }


def case_page_paths() -> dict[str, Any]:
    """The applicant's approval summary, archiving and the organisations to choose from (issue 10)."""
    org = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    file_entry = {
        "type": "object",
        "properties": {
            "file_id": {"type": "string"},
            "name": {"type": "string", "description": "The file name as this recipient sees it"},
            "original_name": {"type": "string"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "needs_review": {"type": "boolean"},
            "review_reasons": {"type": "array", "items": {"type": "string"}},
            "reason": {"type": "string", "description": "Why withheld or excluded"},
        },
    }
    files = {"type": "array", "items": file_entry}
    recipient = {
        "type": "object",
        "properties": {
            "recipient": {"enum": ["supplier", "bureau"]},
            "organisation": {"type": "string"},
            "files": files,
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "redactions": {"type": "integer"},
            "needs_review": files,
            "withheld": files,
            "excluded": files,
            "pending": {"type": "array", "items": {"type": "object"}},
        },
    }
    archived = {"type": "object", "properties": {"id": {"type": "string"}, "archived": {"type": "boolean"}}}
    return {
        "/cases/{case_id}/approval-summary": {
            "get": {
                "summary": "Per recipient: files as shared, redactions per type, files flagged for review, "
                "withheld and excluded (applicant only)",
                "parameters": [CASE_ID],
                "responses": {
                    "200": _resp(
                        "Summary",
                        {
                            "type": "object",
                            "properties": {
                                "can_approve": {"type": "boolean"},
                                "ready": {"type": "boolean"},
                                "recipients": {"type": "array", "items": recipient},
                            },
                        },
                    ),
                    **_errors(401, 403, 404),
                },
            },
        },
        "/cases/{case_id}/archive": {
            "post": {
                "summary": "Archive the case: hidden from the case list, read-only until restored",
                "parameters": [CASE_ID],
                "responses": {"200": _resp("Archived", archived), **_errors(401, 403, 404, 409)},
            },
        },
        "/cases/{case_id}/unarchive": {
            "post": {
                "summary": "Restore an archived case",
                "parameters": [CASE_ID],
                "responses": {"200": _resp("Restored", archived), **_errors(401, 403, 404, 409)},
            },
        },
        "/organisations": {
            "get": {
                "summary": "Registered supplier or bureau organisations a case can name (applicants only)",
                "parameters": [{"name": "kind", "in": "query", "schema": {"enum": ["supplier", "bureau"]}}],
                "responses": {
                    "200": _resp(
                        "Organisations by name",
                        {"type": "object", "properties": {"organisations": {"type": "array", "items": org}}},
                    ),
                    **_errors(401, 403, 422),
                },
            },
        },
    }


def feature_paths() -> dict[str, Any]:
    """Paths documented by the feature API modules next to their routes."""
    # Imported here: they import this module's helpers.
    from exchange.web.api import bureau, policy, previews, resumable, review  # noqa: PLC0415

    paths: dict[str, Any] = {}
    for module in (review, previews, bureau, resumable, policy):
        for path, operations in module.openapi_paths().items():
            paths.setdefault(path, {}).update(operations)
    return paths


def account_paths() -> dict[str, Any]:
    """API tokens and invitations (issue 10). Cookie sessions also send X-CSRFToken on writes."""
    token = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "prefix": {"type": "string", "description": "the first characters, to recognise a token"},
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
            "revoked": {"type": "boolean"},
        },
    }
    return {
        "/tokens": {
            "get": {
                "summary": "The caller's own API tokens (never the tokens themselves)",
                "responses": {
                    "200": _resp(
                        "Tokens",
                        {"type": "object", "properties": {"tokens": {"type": "array", "items": token}}},
                    ),
                    **_errors(401),
                },
            }
        },
        "/tokens/{token_id}": {
            "delete": {
                "summary": "Revoke one of the caller's tokens; it is refused from the next request on",
                "parameters": [
                    {"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"204": _resp("Revoked"), **_errors(401, 404)},
            }
        },
        "/invitations": {
            "post": {
                "summary": "Invite a user into the caller's organisation (organisation administrators)",
                "description": "Returns a single-use link that expires after EXCHANGE_INVITATION_HOURS; "
                "it is shown once and stored only as a hash. The role must fit the organisation.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["email", "role"],
                                "properties": {
                                    "email": {"type": "string", "format": "email"},
                                    "role": {"type": "string", "enum": ["applicant", "supplier", "bureau"]},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _resp(
                        "Invitation",
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "email": {"type": "string"},
                                "role": {"type": "string"},
                                "url": {"type": "string", "format": "uri"},
                            },
                        },
                    ),
                    **_errors(400, 401, 403, 409, 422),
                },
            }
        },
    }
