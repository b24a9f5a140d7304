"""Rendered page images of a file's original and of each recipient's view (issue 10).

The applicant of the case only: originals are never shown to anyone else
(another organisation gets 404, another role 403). Images are rendered by
the workers after processing; until then a page answers 202 with
Retry-After, so a client polls instead of guessing.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from exchange.services import previews
from exchange.web.api.common import api_blueprint
from exchange.web.auth import login_required
from exchange.web.wiring import service_context

bp = api_blueprint("api_previews", __name__)

#: seconds a client waits before asking again for a page still being rendered
RETRY_AFTER = 2


@bp.get("/cases/<case_id>/files/<file_id>/pages/<int:n>.png")
@login_required
def page_png(case_id: str, file_id: str, n: int) -> Any:
    ctx = service_context()
    png = previews.page_image(ctx, case_id, file_id, n, request.args.get("view"))
    if png is None:
        response = jsonify(status="rendering")
        response.status_code = 202
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response
    response = Response(png, mimetype="image/png")
    max_age = ctx.settings.preview_cache_seconds
    # A private cache only: the page shows an original; shared caches must never keep it.
    response.headers["Cache-Control"] = f"private, max-age={int(max_age)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="page-{n}.png"'
    return response


@bp.get("/cases/<case_id>/files/<file_id>/pages")
@login_required
def pages(case_id: str, file_id: str) -> Any:
    ctx = service_context()
    summary = previews.page_summary(ctx, case_id, file_id)
    response = jsonify(summary)
    if summary["status"] in ("rendering", "waiting"):
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


@bp.post("/cases/<case_id>/files/<file_id>/pages")
@login_required
def render(case_id: str, file_id: str) -> Any:
    ctx = service_context()
    outcome = previews.request_render(ctx, case_id, file_id)
    ctx.commit()
    if outcome == "ready":
        return jsonify(status="ready")
    response = jsonify(status="rendering")
    response.status_code = 202
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


FILE_ID = {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    box = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
    mark = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "entity_type": {"type": "string"},
            "box": {
                **box,
                "description": "[left, top, right, bottom] as fractions of the page, origin top left",
            },
        },
    }
    status = {
        "type": "string",
        "enum": ["ready", "rendering", "waiting", "none", "failed"],
        "description": "ready: pages are current; rendering: being rendered for the file's current outputs; "
        "waiting: the file is not processed yet; none: the file has no pages (video, failed file); "
        "failed: rendering failed (see reason)",
    }
    summary = {
        "type": "object",
        "required": ["status", "pages", "views", "marks"],
        "properties": {
            "file_id": {"type": "string"},
            "status": status,
            "generation": {"type": "string", "description": "changes when the pages are rendered anew"},
            "reason": {"type": "string"},
            "pages": {
                "type": "integer",
                "description": "pages of the original rendered (at most the preview limit)",
            },
            "page_count": {"type": ["integer", "null"], "description": "pages of the original in all"},
            "views": {"type": "array", "items": {"type": "string"}, "description": "views with pages"},
            "view_status": {"type": "object", "additionalProperties": {"type": "object"}},
            "marks": {
                "type": "object",
                "description": "page number -> where findings sit on the original",
                "additionalProperties": {"type": "array", "items": mark},
            },
            "sizes": {"type": "object", "additionalProperties": box | {"minItems": 2, "maxItems": 2}},
        },
    }
    rendering = {
        "description": "Not rendered yet for the file's current outputs; ask again after Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"status": {"const": "rendering"}}}
            }
        },
    }
    return {
        "/cases/{case_id}/files/{file_id}/pages/{n}.png": {
            "get": {
                "summary": "One rendered page: the original or a recipient's redacted view (applicant)",
                "parameters": [
                    CASE_ID,
                    FILE_ID,
                    {
                        "name": "n",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    {
                        "name": "view",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(previews.VIEWS), "default": "original"},
                    },
                    {
                        "name": "v",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": 64},
                        "description": "the summary's generation: ignored here, it keeps caches current",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The page as PNG (Cache-Control: private)",
                        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "202": rendering,
                    "400": _error("Unknown view"),
                    "401": _error("Not authenticated"),
                    "403": _error("Not the applicant"),
                    "404": _error("Unknown case or file, a page beyond the file, or a view without pages"),
                },
            }
        },
        "/cases/{case_id}/files/{file_id}/pages": {
            "get": {
                "summary": "Rendering state, page count, views and finding marks of a file (applicant)",
                "parameters": [CASE_ID, FILE_ID],
                "responses": {
                    "200": {
                        "description": "Preview summary",
                        "content": {"application/json": {"schema": summary}},
                    },
                    "401": _error("Not authenticated"),
                    "403": _error("Not the applicant"),
                    "404": _error("Unknown case or file"),
                },
            },
            "post": {
                "summary": "Render the file's pages again unless they are current (applicant)",
                "description": "Processing renders pages by itself; this recovers a file processed before "
                "previews existed or whose rendering job was lost.",
                "parameters": [CASE_ID, FILE_ID],
                "responses": {
                    "200": {
                        "description": "The pages are current",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"status": {"const": "ready"}}}
                            }
                        },
                    },
                    "202": rendering,
                    "401": _error("Not authenticated"),
                    "403": _error("Not the applicant"),
                    "404": _error("Unknown case or file"),
                    "409": _error("The file is not processed, or has no pages (video)"),
                },
            },
        },
    }
