"""Two simultaneous submits and two simultaneous approves: one run, one bundle per recipient.

Threads against the real app (its own client each) with the real worker of
the ``stack`` fixture; neither request may answer 5xx.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from exchange import create_app
from exchange.models import Bundle
from exchange.models.database import Database
from exchange.services import audit
from exchange.services.context import ServiceContext
from tests.conftest import Stack
from tests.seed import bearer, new_case, seed_world

pytestmark = pytest.mark.integration

POLICY = """version: 1
name: concurrency
terms: {customers: ["Kestrel Dynamics GmbH"]}
recipients:
  bureau: {redact: [CUSTOMER], style: label}
  supplier: {redact: [CUSTOMER]}
"""


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    application = create_app(stack.settings)
    yield application
    application.extensions["exchange"].database.dispose()


def _together(app: Flask, path: str, headers: dict[str, str]) -> list[int]:
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(client.post(path, headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(codes)


def _wait(app: Flask, case_id: str, headers: dict[str, str], wanted: set[str], stack: Stack) -> Any:
    deadline = time.monotonic() + 180
    body: Any = {}
    while time.monotonic() < deadline:
        body = app.test_client().get(f"/api/v1/cases/{case_id}", headers=headers).get_json()
        if body["status"] in wanted:
            return body
        time.sleep(0.3)
    pytest.fail(f"case stuck at {body.get('status')}\n{stack.worker_tail()}")


def test_double_submit_and_double_approve(stack: Stack, app: Flask) -> None:
    world = seed_world(stack.settings)
    headers = bearer(world.applicant)
    client = app.test_client()
    case_id = new_case(client, world, "double click", POLICY)
    for i in range(3):
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=headers,
            data={"file": (io.BytesIO(f"Order {i} for Kestrel Dynamics GmbH.\n".encode()), f"o{i}.txt")},
            content_type="multipart/form-data",
        )
        assert res.status_code == 201, res.get_json()

    assert _together(app, f"/api/v1/cases/{case_id}/submit", headers) == [202, 409]
    body = _wait(app, case_id, headers, {"review", "failed"}, stack)
    assert body["status"] == "review", body.get("error")
    assert _together(app, f"/api/v1/cases/{case_id}/approve", headers) == [202, 409]
    assert _wait(app, case_id, headers, {"sealed", "failed"}, stack)["status"] == "sealed"

    database = Database(stack.settings.database_url)
    try:
        with database.session() as session:
            bundles = session.scalars(select(Bundle).where(Bundle.case_id == case_id)).all()
            assert sorted(b.recipient for b in bundles) == ["bureau", "supplier"]
            wired = app.extensions["exchange"]
            ctx = ServiceContext(
                session=session, blobs=wired.blobs, queue=wired.queue, settings=stack.settings
            )
            events = audit.chain_events(ctx, case_id)
            assert audit.verify(events).ok
            assert [e.action for e in events].count("case.submitted") == 1
            assert [e.action for e in events].count("case.approved") == 1
            assert [e.action for e in events].count("case.processed") == 1
    finally:
        database.dispose()
