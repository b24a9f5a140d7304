"""One place that maps errors to HTTP answers.

API paths get JSON ``{"error": "<one line>"}``; pages get a short HTML page.
Unexpected exceptions are logged server-side and answered with a generic
500: no stack trace, no exception text, ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from exchange.domain.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "bad request",
    401: "authentication required: sign in or send an API bearer token",
    403: "you are not allowed to do this",
    404: "not found",
    405: "method not allowed",
    413: "the upload is larger than the configured limit",
    500: "internal error; the incident was logged",
}


def _answer(status: int, message: str) -> Any:
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), status
    return render_template("error.html", status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        return _answer(exc.status, exc.message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _answer(400, f"CSRF check failed: {exc.description}")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Any:
        limit = app.extensions["exchange"].settings.max_upload_bytes
        return _answer(
            413, f"the upload is larger than the {limit // (1024 * 1024)} MiB limit; nothing was stored"
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        return _answer(status, MESSAGES.get(status, exc.name.lower()))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _answer(500, MESSAGES[500])
