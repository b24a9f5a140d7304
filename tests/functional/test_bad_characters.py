"""NUL and lone surrogates anywhere in a request: a one-line 4xx, never a 500, on both databases."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient

from tests.conftest import Stack
from tests.seed import PASSWORD, World, bearer, new_case, seed_world

pytestmark = pytest.mark.integration


def one_line_4xx(res: object) -> str:
    status = res.status_code  # type: ignore[attr-defined]
    assert 400 <= status < 500, (status, res.get_data()[:300])  # type: ignore[attr-defined]
    body = res.get_json(silent=True)  # type: ignore[attr-defined]
    if body is None:  # a page: the one-line message sits in the error template
        page = res.get_data(as_text=True)  # type: ignore[attr-defined]
        assert "cannot be stored" in page
        return str(page)
    message = body["error"]
    assert message and "\n" not in message.strip()
    return str(message)


def test_nul_and_surrogates_are_refused_everywhere(stack: Stack, client: FlaskClient) -> None:
    world: World = seed_world(stack.settings)
    app_h = bearer(world.applicant)
    case_id = new_case(client, world, "characters")
    orgs = {"supplier_org": world.supplier.org, "bureau_org": world.bureau.org}

    # JSON fields: NUL, and a lone surrogate sent as a JSON escape (it cannot be sent raw).
    assert "NUL" in one_line_4xx(
        client.post("/api/v1/cases", headers=app_h, json={"title": "a\x00b", **orgs})
    )
    raw = json.dumps({"title": "x", **orgs})[:-1] + ', "note": "\\ud800"}'
    one_line_4xx(client.post("/api/v1/cases", headers=app_h, data=raw, content_type="application/json"))
    raw_key = json.dumps({"title": "x", **orgs})[:-1] + ', "\\u0000": 1}'
    one_line_4xx(client.post("/api/v1/cases", headers=app_h, data=raw_key, content_type="application/json"))
    # Path ids and query parameters.
    one_line_4xx(client.get("/api/v1/cases/abc%00def", headers=app_h))
    one_line_4xx(client.get(f"/api/v1/cases/{case_id}/files/x%00y", headers=app_h))
    one_line_4xx(client.get("/api/v1/cases?page=1%00", headers=app_h))
    one_line_4xx(client.get("/api/v1/bundles/%00/download", headers=app_h))
    # Header-derived values: the bearer token, a forwarded request id.
    one_line_4xx(client.get("/api/v1/cases", headers={"Authorization": "Bearer abc\x00def"}))
    res = client.get("/healthz", headers={"X-Request-ID": "bad\x00id-123456"})
    assert res.status_code == 400 and res.headers["X-Request-ID"] != "bad\x00id-123456"
    # Form fields: the sign-in e-mail and a page form.
    one_line_4xx(client.post("/login", data={"email": "a\x00@example.test", "password": PASSWORD}))
    one_line_4xx(client.post("/cases", data={"title": "t\x00", **orgs}, headers=app_h))
    # Text bodies: a policy.
    one_line_4xx(
        client.put(
            f"/api/v1/cases/{case_id}/policy",
            headers=app_h,
            data="version: 1\nname: a\x00b\n",
            content_type="application/yaml",
        )
    )
    # File names: refused with the reason, not silently changed.
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=app_h,
        data={"file": (io.BytesIO(b"hello\n"), "order\x00.txt")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 422 and res.get_json()["error"] == "the file name contains control characters"
    # The case is unchanged and the database still answers.
    body = client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()
    assert body["title"] == "characters" and body["files"] == []
    ok = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=app_h,
        data={"file": (io.BytesIO(b"hello\n"), "\u8ba2\u5355.txt")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 201 and ok.get_json()["name"] == "\u8ba2\u5355.txt"
