"""One place that maps errors to HTTP answers.

API paths get JSON ``{"error": "<one line>"}`` in English; pages get a short HTML
page in the reader's language (the web layer's own messages; a domain message
stays English).
Unexpected exceptions are logged server-side and answered with a generic
500: no stack trace, no exception text, ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from exchange.domain.errors import DomainError

log = logging.getLogger(__name__)


def translatable(message: str) -> str:
    """Marks a message for the catalogue; it is translated where a page shows it."""
    return message


MESSAGES = {
    400: translatable("bad request"),
    401: translatable("authentication required: sign in or send an API bearer token"),
    403: translatable("you are not allowed to do this"),
    404: translatable("not found"),
    405: translatable("method not allowed"),
    413: translatable("the upload is larger than the configured limit"),
    500: translatable("internal error; the incident was logged"),
}


def _answer(status: int, message: str, shown: str | None = None) -> Any:
    """``message`` for the API, in English; ``shown`` (else ``message``) on the page."""
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), status
    return render_template("error.html", status=status, message=shown or message), status


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        return _answer(exc.status, exc.message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _answer(
            400,
            f"CSRF check failed: {exc.description}",
            gettext("CSRF check failed: %(reason)s", reason=exc.description),
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Any:
        limit = app.extensions["exchange"].settings.max_upload_bytes
        mib = limit // (1024 * 1024)
        return _answer(
            413,
            f"the upload is larger than the {mib} MiB limit; nothing was stored",
            gettext("the upload is larger than the %(mib)d MiB limit; nothing was stored", mib=mib),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = MESSAGES.get(status)
        return _answer(status, message or exc.name.lower(), gettext(message) if message else None)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _answer(500, MESSAGES[500], gettext(MESSAGES[500]))
