"""Server-side sessions: sign-out, idle timeout, disabled users and revoked tokens take effect at once."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from exchange import create_app
from exchange.services import accounts
from tests.conftest import Stack
from tests.functional.accounts_flow import operator, post_form, session_cookie, sign_in, sign_out
from tests.seed import PASSWORD, bearer, new_case, seed_world

pytestmark = pytest.mark.integration


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


def test_a_cookie_saved_before_sign_out_no_longer_opens_a_case(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    case_id = new_case(client, world, "saved cookie")
    assert sign_in(client, world.applicant.email).status_code == 302
    assert client.get(f"/cases/{case_id}").status_code == 200
    saved = session_cookie(client)

    assert sign_out(client).status_code == 302
    thief = app.test_client()
    thief.set_cookie("sx_session", saved)
    res = thief.get(f"/cases/{case_id}")
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    assert thief.get(f"/api/v1/cases/{case_id}").status_code == 401


def test_idle_sessions_end(stack: Stack) -> None:
    settings = dataclasses.replace(stack.settings, idle_timeout_minutes=0.03)  # 1.8 s
    app = create_app(settings)
    try:
        world = seed_world(settings)
        client = app.test_client()
        assert sign_in(client, world.applicant.email).status_code == 302
        assert client.get("/cases").status_code == 200
        time.sleep(1.0)
        assert client.get("/cases").status_code == 200  # use keeps it alive
        time.sleep(2.2)
        assert client.get("/cases").status_code == 302
        # The idle session ended on the server: it does not come back.
        assert client.get("/cases").status_code == 302
    finally:
        app.extensions["exchange"].database.dispose()


def test_a_disabled_users_session_and_tokens_stop_at_once(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    assert sign_in(client, world.supplier.email).status_code == 302
    assert client.get("/bundles").status_code == 200
    assert client.get("/api/v1/tokens", headers=bearer(world.supplier)).status_code == 200

    with operator(stack.settings) as ctx:
        accounts.disable_user(ctx, world.supplier.email)

    assert client.get("/bundles").status_code == 302
    assert client.get("/api/v1/tokens", headers=bearer(world.supplier)).status_code == 401
    assert sign_in(app.test_client(), world.supplier.email).status_code == 401


def test_revoked_tokens_are_refused(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    with operator(stack.settings) as ctx:
        second = accounts.create_token(ctx, world.bureau.email)
    listed = client.get("/api/v1/tokens", headers=bearer(world.bureau)).get_json()["tokens"]
    assert len(listed) == 2 and all(not t["revoked"] for t in listed)
    assert all("token" not in t and "hash" not in str(t) for t in listed)
    newest = listed[0]["id"]

    assert client.delete(f"/api/v1/tokens/{newest}", headers=bearer(world.bureau)).status_code == 204
    assert client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert client.get("/api/v1/tokens", headers=bearer(world.bureau)).status_code == 200
    # Another user's token is not found, not revoked.
    theirs = client.get("/api/v1/tokens", headers=bearer(world.supplier)).get_json()["tokens"][0]["id"]
    assert client.delete(f"/api/v1/tokens/{theirs}", headers=bearer(world.bureau)).status_code == 404

    # The Security page revokes with a form post.
    assert sign_in(client, world.supplier.email).status_code == 302
    page = client.get("/security").get_data(as_text=True)
    assert f"/security/tokens/{theirs}/revoke" in page
    assert post_form(client, f"/security/tokens/{theirs}/revoke", {}).status_code == 302
    assert client.get("/api/v1/tokens", headers=bearer(world.supplier)).status_code == 401


def test_a_password_change_signs_out_other_sessions(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    here, there = app.test_client(), app.test_client()
    assert sign_in(here, world.applicant.email).status_code == 302
    assert sign_in(there, world.applicant.email).status_code == 302

    res = post_form(
        here, "/security/password", {"current_password": PASSWORD, "new_password": "password1234"}
    )
    assert res.status_code == 422 and "common password" in res.get_data(as_text=True)
    res = post_form(
        here,
        "/security/password",
        {"current_password": PASSWORD, "new_password": "violet kettle under a quiet bridge"},
    )
    assert res.status_code == 302
    assert here.get("/cases").status_code == 200
    assert there.get("/cases").status_code == 302
