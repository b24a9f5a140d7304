"""The applicant's review: decisions on findings, manual boxes and text selections (issue 10)."""

from __future__ import annotations

from typing import Any

from exchange.web.api.common import api_blueprint

bp = api_blueprint("api_review", __name__)


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document."""
    return {}
