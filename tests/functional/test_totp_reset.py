"""A lost second factor: an organisation administrator (or the operator) resets it.

The reset deletes the enrolment and recovery codes and ends the user's
sessions; the user signs in with the password alone (or must enrol again
where the organisation requires two-factor sign-in). Administrators of other
organisations, and users who are not administrators, cannot reset anyone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange import create_app
from exchange.services import accounts
from tests.conftest import Stack
from tests.functional.accounts_flow import operator, post_form, sign_in, sign_out
from tests.functional.test_totp import enrol
from tests.seed import PASSWORD, seed_world

pytestmark = pytest.mark.integration


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.env}
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _reset(client: FlaskClient, email: str) -> int:
    res = post_form(client, "/security/users/reset-two-factor", {"email": email}, page="/security")
    return int(res.status_code)


def test_an_org_admin_resets_a_lost_second_factor(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    user_client, admin_client = app.test_client(), app.test_client()
    assert sign_in(user_client, world.applicant.email).status_code == 302
    enrol(user_client)
    # the user's browser stays signed in while the admin resets the factor

    with operator(stack.settings) as ctx:
        accounts.add_user(
            ctx, "admin-" + world.applicant.email, "applicant", world.applicant.org, PASSWORD, org_admin=True
        )
    assert sign_in(admin_client, "admin-" + world.applicant.email).status_code == 302
    assert _reset(admin_client, world.applicant.email) == 302

    assert user_client.get("/cases").status_code == 302  # the old session ended
    res = sign_in(user_client, world.applicant.email, next_path="/cases")
    assert res.status_code == 302 and not res.headers["Location"].startswith("/login/code")
    assert user_client.get("/cases").status_code == 200  # no code asked: the factor is gone
    sign_out(user_client)


def test_only_an_admin_of_the_same_organisation_can_reset(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    victim = app.test_client()
    assert sign_in(victim, world.applicant.email).status_code == 302
    enrol(victim)
    sign_out(victim)

    other = seed_world(stack.settings)
    with operator(stack.settings) as ctx:
        accounts.add_user(
            ctx, "admin-" + other.applicant.email, "applicant", other.applicant.org, PASSWORD, org_admin=True
        )
    foreign_admin = app.test_client()
    assert sign_in(foreign_admin, "admin-" + other.applicant.email).status_code == 302
    assert _reset(foreign_admin, world.applicant.email) == 404

    plain = app.test_client()  # a colleague who is not an administrator
    with operator(stack.settings) as ctx:
        accounts.add_user(
            ctx, "colleague-" + world.applicant.email, "applicant", world.applicant.org, PASSWORD
        )
    assert sign_in(plain, "colleague-" + world.applicant.email).status_code == 302
    assert _reset(plain, world.applicant.email) == 404

    # the factor is still required
    res = sign_in(victim, world.applicant.email, next_path="/cases")
    assert res.headers["Location"].startswith("/login/code")


def test_the_operator_resets_from_the_cli(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    client = app.test_client()
    assert sign_in(client, world.applicant.email).status_code == 302
    enrol(client)
    sign_out(client)
    done = _cli(stack, "users", "reset-2fa", "--email", world.applicant.email)
    assert done.returncode == 0, done.stderr
    assert "reset" in done.stdout
    res = sign_in(client, world.applicant.email, next_path="/cases")
    assert not res.headers["Location"].startswith("/login/code")
    missing = _cli(stack, "users", "reset-2fa", "--email", "nobody@example.test")
    assert missing.returncode == 2 and "no user" in missing.stderr
