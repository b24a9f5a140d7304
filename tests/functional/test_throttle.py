"""Sign-in throttling: no lock-out of a victim from elsewhere, growing delays, never failing open."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from exchange import create_app
from exchange.adapters.throttle import LoginThrottle, ThrottleUnavailable
from tests.conftest import Stack
from tests.functional.accounts_flow import sign_in
from tests.seed import seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


def test_an_attacker_guessing_wrong_does_not_lock_the_victim_out(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.66"
    statuses = [sign_in(attacker, world.applicant.email, "guess number one").status_code for _ in range(8)]
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) <= {401, 429} and 429 in statuses
    # The attacker now waits even with the right password ...
    assert sign_in(attacker, world.applicant.email).status_code == 429
    # ... while the owner, from their own address, signs in at once.
    victim = app.test_client()
    victim.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert sign_in(victim, world.applicant.email).status_code == 302


def test_the_delay_doubles_with_each_further_failure(stack: Stack, app: Flask) -> None:
    throttle = LoginThrottle(stack.settings.redis_url)
    account, addr = f"{uuid.uuid4().hex}@example.test", "192.0.2.10"
    delays = [throttle.failed(account, addr) for _ in range(8)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16]
    assert 15 <= throttle.wait_seconds(account, addr) <= 16
    assert throttle.wait_seconds(account, "192.0.2.11") == 0  # another address is not slowed
    throttle.succeeded(account, addr)
    assert throttle.wait_seconds(account, addr) == 0

    # Through the page: the answer says how long to wait, and the wait grows.
    world = seed_world(stack.settings)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.20"
    waits = []
    for _ in range(6):
        res = sign_in(client, world.bureau.email, "still not it")
        if res.status_code == 429:
            waits.append(int(res.headers["Retry-After"]))
            assert "try again in" in res.get_data(as_text=True)
    assert waits, "no delay after repeated failures"
    assert throttle.failed(world.bureau.email, "192.0.2.20") > 1


def test_spraying_many_accounts_from_one_address_is_slowed(stack: Stack) -> None:
    throttle = LoginThrottle(stack.settings.redis_url)
    addr = f"192.0.2.{uuid.uuid4().int % 200 + 30}"
    delays = [throttle.failed(f"{uuid.uuid4().hex}@example.test", addr) for _ in range(33)]
    assert delays[:30] == [0] * 30 and delays[30:] == [1, 2, 4]
    assert throttle.wait_seconds(f"{uuid.uuid4().hex}@example.test", addr) >= 3


def test_sign_in_is_refused_while_the_throttle_store_is_down(stack: Stack) -> None:
    world = seed_world(stack.settings)
    down = dataclasses.replace(stack.settings, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(ThrottleUnavailable):
        LoginThrottle(down.redis_url).wait_seconds("x@example.test", "192.0.2.1")
    app = create_app(down)
    try:
        client = app.test_client()
        res = sign_in(client, world.applicant.email)  # the right password
        assert res.status_code == 503
        assert "temporarily unavailable" in res.get_data(as_text=True)
        assert client.get("/cases").status_code == 302  # not signed in
        assert sign_in(client, world.applicant.email, "wrong guess here").status_code == 503
    finally:
        app.extensions["exchange"].database.dispose()
