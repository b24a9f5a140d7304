"""What every /api/v1 blueprint shares: CSRF for cookie sessions and JSON bodies.

Feature modules (``review``, ``previews``, ``bureau``) each own a blueprint
under ``/api/v1`` built by :func:`api_blueprint` and document their routes
in their own ``openapi_paths()``, which ``openapi.py`` merges.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from exchange.domain.errors import DomainError
from exchange.extensions import csrf


def _csrf_for_cookie_sessions() -> None:
    # A bearer token is no ambient credential; a cookie is, so it needs the CSRF header.
    if not g.get("via_token"):
        csrf.protect()


def api_blueprint(name: str, import_name: str) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix="/api/v1")
    csrf.exempt(bp)
    bp.before_request(_csrf_for_cookie_sessions)
    return bp


def json_body() -> dict[str, Any]:
    """The request's JSON object, or DomainError (400) with a one-line reason."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        # json.loads recurses per nesting level and Flask only catches ValueError.
        raise DomainError("malformed JSON: nested too deeply") from None
    if body is None:
        raise DomainError("malformed JSON: send a JSON object with Content-Type: application/json")
    if not isinstance(body, dict):
        raise DomainError("the JSON body must be an object")
    return body
