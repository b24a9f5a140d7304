"""Organisation administrators invite users by a single-use, expiring link."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from exchange import create_app
from exchange.services import accounts
from tests.conftest import Stack
from tests.functional.accounts_flow import csrf_token, operator, post_form, sign_in
from tests.seed import bearer, seed_world

pytestmark = pytest.mark.integration


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


def accept(client: FlaskClient, link: str, password: str) -> TestResponse:
    parts = urlsplit(link)
    token = parts.query.removeprefix("token=")
    page = client.get(f"{parts.path}?{parts.query}")
    if page.status_code != 200:
        return page
    return client.post(
        "/invite",
        data={"token": token, "password": password, "csrf_token": csrf_token(client, "/login")},
    )


def test_an_org_admin_invites_and_the_link_works_once(
    stack: Stack, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    world = seed_world(stack.settings)
    with operator(stack.settings) as ctx:
        accounts.set_org_admin(ctx, world.applicant.email, True)
    admin = app.test_client()
    assert sign_in(admin, world.applicant.email).status_code == 302
    invitee = f"new-{world.applicant.email}"
    res = post_form(admin, "/security/invitations", {"email": invitee, "role": "applicant"})
    assert res.status_code == 200
    link = re.search(r'id="invite-link">([^<]+)<', res.get_data(as_text=True))
    assert link and "/invite?token=" in link.group(1)

    caplog.set_level(logging.INFO)
    newcomer = app.test_client()
    res = accept(newcomer, link.group(1), "password1234")
    assert res.status_code == 422 and "common password" in res.get_data(as_text=True)
    res = accept(newcomer, link.group(1), "amber lantern over seven hills")
    assert res.status_code == 302
    assert newcomer.get("/cases").status_code == 200
    token = urlsplit(link.group(1)).query.removeprefix("token=")
    assert all(token not in record.getMessage() + str(record.__dict__) for record in caplog.records)

    assert accept(app.test_client(), link.group(1), "amber lantern over seven hills").status_code == 404
    page = admin.get("/security").get_data(as_text=True)
    assert invitee in page  # now a member the admin can disable
    assert post_form(admin, "/security/users/disable", {"email": invitee}).status_code == 302
    assert newcomer.get("/cases").status_code == 302


def test_invitations_through_the_api_and_their_limits(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    body = {"email": f"x-{world.supplier.email}", "role": "supplier"}
    assert client.post("/api/v1/invitations", json=body, headers=bearer(world.supplier)).status_code == 403
    with operator(stack.settings) as ctx:
        accounts.set_org_admin(ctx, world.supplier.email, True)
    res = client.post("/api/v1/invitations", json={**body, "role": "bureau"}, headers=bearer(world.supplier))
    assert res.status_code == 422  # a supplier organisation invites suppliers only
    res = client.post("/api/v1/invitations", json={**body, "role": "admin"}, headers=bearer(world.supplier))
    assert res.status_code == 422
    res = client.post("/api/v1/invitations", json=body, headers=bearer(world.supplier))
    assert res.status_code == 201 and res.get_json()["email"] == body["email"]
    # An org admin cannot disable someone of another organisation (nor learn that they exist).
    admin = app.test_client()
    sign_in(admin, world.supplier.email)
    assert post_form(admin, "/security/users/disable", {"email": world.bureau.email}).status_code == 404


def test_an_expired_invitation_is_refused(stack: Stack) -> None:
    settings = dataclasses.replace(stack.settings, invitation_hours=0.0003)  # about a second
    app = create_app(settings)
    try:
        world = seed_world(settings)
        with operator(settings) as ctx:
            accounts.set_org_admin(ctx, world.bureau.email, True)
        client = app.test_client()
        body = {"email": f"late-{world.bureau.email}", "role": "bureau"}
        link = client.post("/api/v1/invitations", json=body, headers=bearer(world.bureau)).get_json()["url"]
        time.sleep(1.3)
        assert accept(app.test_client(), link, "amber lantern over seven hills").status_code == 404
    finally:
        app.extensions["exchange"].database.dispose()


def test_an_invitee_of_a_strict_org_enrols_before_anything_else(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    with operator(stack.settings) as ctx:
        accounts.set_org_admin(ctx, world.bureau.email, True)
        accounts.set_require_totp(ctx, world.bureau.org, False)
    client = app.test_client()
    body = {"email": f"strict-{world.bureau.email}", "role": "bureau"}
    link = client.post("/api/v1/invitations", json=body, headers=bearer(world.bureau)).get_json()["url"]
    with operator(stack.settings) as ctx:
        accounts.set_require_totp(ctx, world.bureau.org, True)
    newcomer = app.test_client()
    assert accept(newcomer, link, "amber lantern over seven hills").status_code == 302
    res = newcomer.get("/bundles")
    assert res.status_code == 302 and res.headers["Location"].endswith("/security/totp")
