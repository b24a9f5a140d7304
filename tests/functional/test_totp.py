"""Two-factor sign-in: enrolment, codes at sign-in, single-use recovery codes, replay, org enforcement."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange import create_app
from exchange.domain.errors import Forbidden
from exchange.services import accounts
from tests.conftest import Stack
from tests.functional.accounts_flow import csrf_token, operator, post_form, sign_in, sign_out
from tests.seed import bearer, seed_world

pytestmark = pytest.mark.integration


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


def enrol(client: FlaskClient) -> tuple[pyotp.TOTP, float, list[str]]:
    """Enrol through the pages; return the authenticator, the time its first code was for, the codes."""
    page = client.get("/security/totp")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html and "<script>" not in html and "style=" not in html
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert secret, "no secret shown for manual entry"
    authenticator, at = pyotp.TOTP(secret.group(1)), time.time()
    res = post_form(client, "/security/totp", {"code": authenticator.at(at)}, page="/security/totp")
    assert res.status_code == 200
    codes = re.findall(
        r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>", res.get_data(as_text=True)
    )
    assert len(codes) == 10 and len(set(codes)) == 10
    return authenticator, at, codes


def give_code(client: FlaskClient, code: str) -> int:
    return int(
        client.post(
            "/login/code", data={"code": code, "csrf_token": csrf_token(client, "/login/code")}
        ).status_code
    )


def test_enrol_then_sign_in_with_a_code_once_and_recovery_codes_once(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    assert sign_in(client, world.applicant.email).status_code == 302
    authenticator, first_at, codes = enrol(client)
    sign_out(client)

    res = sign_in(client, world.applicant.email, next_path="/cases")
    assert res.status_code == 302 and res.headers["Location"].startswith("/login/code")
    assert client.get("/cases").status_code == 302  # the password alone opens nothing
    assert give_code(client, authenticator.at(first_at)) == 401  # the enrolment's code again: a replay
    assert give_code(client, "000000" if authenticator.at(first_at + 30) != "000000" else "111111") == 401
    assert give_code(client, authenticator.at(first_at + 30)) == 302
    assert client.get("/cases").status_code == 200
    sign_out(client)

    assert sign_in(client, world.applicant.email).status_code == 302
    assert give_code(client, authenticator.at(first_at + 30)) == 401  # replayed within its window
    assert give_code(client, codes[0].upper()) == 302  # a recovery code, typed in capitals
    assert client.get("/cases").status_code == 200
    sign_out(client)

    assert sign_in(client, world.applicant.email).status_code == 302
    assert give_code(client, codes[0]) == 401  # used once already
    assert client.get("/cases").status_code == 302


def test_an_organisation_that_requires_totp_sends_its_users_to_enrolment(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    with operator(stack.settings) as ctx:
        accounts.set_require_totp(ctx, world.supplier.org, True)
    client = app.test_client()
    assert sign_in(client, world.supplier.email).status_code == 302
    for path in ("/bundles", "/security", "/"):
        res = client.get(path)
        assert res.status_code == 302 and res.headers["Location"].endswith("/security/totp")
    assert client.get("/api/v1/tokens").status_code == 403  # the cookie does not reach the API either
    # Tokens made before keep working; the API is not behind the enrolment.
    assert client.get("/api/v1/tokens", headers=bearer(world.supplier)).status_code == 200
    res = post_form(client, "/security/tokens", {}, page="/security/totp")
    assert res.status_code == 302 and res.headers["Location"].endswith("/security/totp")

    enrol(client)
    assert client.get("/bundles").status_code == 200
    res = post_form(client, "/security/tokens", {})
    assert res.status_code == 200 and 'id="new-token">sx_' in res.get_data(as_text=True)


def test_operators_cannot_mint_tokens_for_unenrolled_users_of_a_strict_org(stack: Stack) -> None:
    world = seed_world(stack.settings)
    with operator(stack.settings) as ctx:
        accounts.set_require_totp(ctx, world.bureau.org, True)
    with operator(stack.settings) as ctx, pytest.raises(Forbidden):
        accounts.create_token(ctx, world.bureau.email)


def test_pages_stay_csp_clean(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    sign_in(client, world.bureau.email)
    for path in ("/security", "/security/totp"):
        res = client.get(path)
        html = res.get_data(as_text=True)
        assert "script-src 'self'" in res.headers["Content-Security-Policy"]
        assert res.headers["Cache-Control"] == "no-store"
        assert "<script>" not in html and " style=" not in html and "onclick" not in html
        visible_inputs = re.findall(r'<input (?![^>]*type="hidden")', html)
        assert len(re.findall(r"<label>", html)) >= len(visible_inputs) > 0  # every field is labelled
