"""Small helpers for the accounts tests: sign in through the real forms, act as the operator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient

from exchange.adapters.blobstores import blob_store
from exchange.models.database import Database
from exchange.services.context import ServiceContext
from exchange.settings import Settings
from tests.seed import PASSWORD


class _NoQueue:
    def enqueue(self, task_name: str, *args: object) -> None:
        raise AssertionError("account changes queue nothing")


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, next_path: str = "") -> Any:
    token = csrf_token(client)
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def post_form(client: FlaskClient, path: str, data: dict[str, str], page: str = "/security") -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def sign_out(client: FlaskClient) -> Any:
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("sx_session")
    assert cookie is not None, "not signed in"
    return cookie.value


@contextmanager
def operator(settings: Settings) -> Iterator[ServiceContext]:
    """A service context like the CLI's, committed on leaving."""
    database = Database(settings.database_url)
    session = database.sessions()
    ctx = ServiceContext(session=session, blobs=blob_store(settings), queue=_NoQueue(), settings=settings)
    try:
        yield ctx
        ctx.commit()
    finally:
        session.close()
        database.dispose()
