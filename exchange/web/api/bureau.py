"""The bureau's side of a case: information requests, status and bundle versions (issue 10)."""

from __future__ import annotations

from typing import Any

from exchange.web.api.common import api_blueprint

bp = api_blueprint("api_bureau", __name__)


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    return {}
