"""Sessions, CSRF, redirects, headers and page-level access control on the real app."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.conftest import Stack
from tests.seed import PASSWORD, World, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, next_path: str = "") -> object:
    token = csrf_token(client)
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def test_sign_in_requires_csrf_and_sets_a_safe_cookie(stack: Stack, client: FlaskClient) -> None:
    world: World = seed_world(stack.settings)
    res = client.post("/login", data={"email": world.applicant.email, "password": PASSWORD})
    assert res.status_code == 400 and "CSRF" in res.get_data(as_text=True)
    assert sign_in(client, world.applicant.email, "wrong password!").status_code == 401  # type: ignore[attr-defined]
    res = sign_in(client, world.applicant.email)
    assert res.status_code == 302  # type: ignore[attr-defined]
    cookie = res.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_anonymous_requests_between_form_and_post_keep_the_csrf(stack: Stack, client: FlaskClient) -> None:
    # A browser fetches /favicon.ico and static files between showing the form and posting it.
    world: World = seed_world(stack.settings)
    token = csrf_token(client)
    assert client.get("/favicon.ico").status_code in (200, 404)
    static = client.get("/static/app.js")
    static.close()
    assert static.status_code == 200
    form = {"email": world.applicant.email, "password": PASSWORD, "csrf_token": token}
    res = client.post("/login", data=form)
    assert res.status_code == 302, res.get_data(as_text=True)


def test_cookie_sessions_need_the_csrf_header_for_api_writes(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    sign_in(client, world.applicant.email)
    body = {"title": "t", "supplier_org": world.supplier.org, "bureau_org": world.bureau.org}
    res = client.post("/api/v1/cases", json=body)
    assert res.status_code == 400 and "CSRF" in res.get_json()["error"]
    token = csrf_token(client, "/cases")
    res = client.post("/api/v1/cases", json=body, headers={"X-CSRFToken": token})
    assert res.status_code == 201


def test_no_open_redirect_after_sign_in(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    res = sign_in(client, world.applicant.email, next_path="//evil.example/x")
    assert res.headers["Location"] == "/"  # type: ignore[attr-defined]


def test_pages_enforce_roles_and_organisations(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    other = seed_world(stack.settings)
    sign_in(client, other.applicant.email)
    token = csrf_token(client, "/cases")
    case_id = client.post(
        "/api/v1/cases",
        headers={"X-CSRFToken": token},
        json={"title": "theirs", "supplier_org": other.supplier.org, "bureau_org": other.bureau.org},
    ).get_json()["id"]
    client.post("/logout", data={"csrf_token": token})

    sign_in(client, world.applicant.email)
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert client.get(f"/cases/{case_id}/access-log").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases")})
    sign_in(client, world.supplier.email)
    assert client.get("/cases").status_code == 403
    assert client.get("/bundles").status_code == 200


def test_security_headers_and_no_traces(stack: Stack, client: FlaskClient) -> None:
    res = client.get("/login")
    assert "default-src 'self'" in res.headers["Content-Security-Policy"]
    assert res.headers["X-Frame-Options"] == "DENY"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    res = client.get("/api/v1/nowhere")
    assert res.status_code == 404 and res.get_json() == {"error": "not found"}
    assert client.get("/cases").status_code == 302  # signed out: sent to the sign-in page


def test_repeated_failed_sign_ins_are_throttled(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    statuses = [
        sign_in(client, world.bureau.email, "not the password").status_code  # type: ignore[attr-defined]
        for _ in range(5)
    ]
    # A few free guesses, then a delay: even the right password waits it out.
    assert statuses[:3] == [401, 401, 401] and 429 in statuses[3:]
    res = sign_in(client, world.bureau.email)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]
    assert "try again in" in res.get_data(as_text=True)  # type: ignore[attr-defined]
    assert sign_in(client, world.supplier.email).status_code == 302  # type: ignore[attr-defined]
