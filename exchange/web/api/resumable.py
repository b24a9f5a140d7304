"""Resumable uploads over the tus 1.0 core protocol (creation and termination extensions).

Standard tus clients (tus-js-client, tuspy) work against these routes with a
bearer token; the browser sends its CSRF header like every other API write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, g, jsonify, request, url_for

from exchange.domain.errors import DomainError
from exchange.services import resumable
from exchange.web.api.common import api_blueprint
from exchange.web.auth import login_required
from exchange.web.uploads import upload_slot
from exchange.web.wiring import service_context

bp = api_blueprint("api_resumable", __name__)

READ_BYTES = 64 * 1024
OFFSET_TYPE = "application/offset+octet-stream"


class TusVersionMismatch(DomainError):
    status = 412


class UnsupportedBody(DomainError):
    status = 415


def _tus_headers(progress: resumable.Progress | None = None) -> dict[str, str]:
    headers = {"Tus-Resumable": resumable.TUS_VERSION, "Cache-Control": "no-store"}
    if progress is not None:
        headers["Upload-Offset"] = str(progress.received)
        headers["Upload-Length"] = str(progress.length)
    return headers


def _require_tus() -> None:
    if request.headers.get("Tus-Resumable") != resumable.TUS_VERSION:
        raise TusVersionMismatch(f"send the header Tus-Resumable: {resumable.TUS_VERSION}")


def _view(progress: resumable.Progress) -> dict[str, Any]:
    return {
        "id": progress.id,
        "offset": progress.received,
        "length": progress.length,
        "complete": progress.file_id is not None,
        "file_id": progress.file_id,
    }


@bp.after_request
def _always_tus(response: Response) -> Response:
    # Errors too: a tus client reads the version header on every answer.
    response.headers.setdefault("Tus-Resumable", resumable.TUS_VERSION)
    return response


@bp.post("/cases/<case_id>/uploads")
@login_required
def create_upload(case_id: str) -> Any:
    ctx = service_context()
    asked = request.headers
    progress = resumable.start(ctx, case_id, asked.get("Upload-Length"), asked.get("Upload-Metadata"))
    _require_tus()  # after authorization, so that the answer tells a stranger nothing
    ctx.commit()
    headers = _tus_headers(progress)
    headers["Location"] = url_for("api_resumable.upload_status", upload_id=progress.id, _external=True)
    return jsonify(_view(progress)), 201, headers


@bp.get("/uploads/<upload_id>")
@login_required
def upload_status(upload_id: str) -> Any:
    progress = resumable.status(service_context(), upload_id)
    return jsonify(_view(progress)), 200, _tus_headers(progress)


def _body() -> Iterator[bytes]:
    stream = request.stream
    while chunk := stream.read(READ_BYTES):
        yield chunk


@bp.patch("/uploads/<upload_id>")
@login_required
@upload_slot
def append_upload(upload_id: str) -> Any:
    ctx = service_context()
    resumable.status(ctx, upload_id)  # the caller's own upload, before anything else is said
    _require_tus()
    if request.mimetype != OFFSET_TYPE:
        raise UnsupportedBody(f"send the bytes with Content-Type: {OFFSET_TYPE}")
    offset = resumable.parse_length(request.headers.get("Upload-Offset"), "Upload-Offset")
    progress = resumable.append(ctx, upload_id, offset, _body())
    g.upload_bytes = progress.received - offset
    headers = _tus_headers(progress)
    if progress.file_id is not None:
        headers["X-File-Id"] = progress.file_id
    return Response(status=204, headers=headers)


@bp.delete("/uploads/<upload_id>")
@login_required
def delete_upload(upload_id: str) -> Any:
    ctx = service_context()
    resumable.status(ctx, upload_id)
    _require_tus()
    resumable.terminate(ctx, upload_id)
    return Response(status=204, headers=_tus_headers())


def _header(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": schema}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    upload_id = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}
    case_id = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
    tus = {
        "name": "Tus-Resumable",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "enum": ["1.0.0"]},
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

    def answer(text: str) -> dict[str, Any]:
        return {"description": text, "content": error}

    return {
        "/cases/{case_id}/uploads": {
            "post": {
                "summary": "Start a resumable upload (tus 1.0 creation)",
                "description": "Headers: Upload-Length (bytes), Upload-Metadata (`filename <base64>`). "
                "Answers 201 with Location, the URL to PATCH the bytes to.",
                "parameters": [
                    case_id,
                    tus,
                    {
                        "name": "Upload-Length",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                    {"name": "Upload-Metadata", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "201": {"description": "Upload created; Location names it"},
                    "400": answer("Bad header"),
                    "409": answer("The case cannot take files now, or too many open uploads"),
                    "412": answer("Missing Tus-Resumable: 1.0.0"),
                    "413": answer("Larger than the upload limit"),
                },
            }
        },
        "/uploads/{upload_id}": {
            "get": {
                "summary": "Where an upload stands (also HEAD, as tus asks): Upload-Offset header and JSON",
                "parameters": [upload_id],
                "responses": {"200": {"description": "Offset, length, and file_id once complete"}},
            },
            "patch": {
                "summary": "Send bytes at Upload-Offset (Content-Type: application/offset+octet-stream)",
                "description": f"At most {resumable.MAX_PART_BYTES} bytes per request. When the last byte "
                "arrives the file is checked like any upload and X-File-Id names it.",
                "parameters": [
                    upload_id,
                    tus,
                    {
                        "name": "Upload-Offset",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                "responses": {
                    "204": {"description": "Stored; Upload-Offset is the new offset"},
                    "409": answer("Offset does not match; ask for the offset and resume"),
                    "413": answer("More bytes than announced or than one request may carry"),
                    "415": answer("The file's content is not a supported type"),
                },
            },
            "delete": {
                "summary": "Cancel an upload and delete what it stored (tus termination)",
                "parameters": [upload_id, tus],
                "responses": {"204": {"description": "Deleted"}},
            },
        },
    }
