"""Operations endpoints on the real stack: readiness with its checks, protected metrics with job figures."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask

from exchange import create_app
from tests.conftest import Stack
from tests.functional.sealed_case import extra_account, seal_case
from tests.seed import bearer, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_readiness_reports_each_dependency(app: Flask) -> None:
    res = app.test_client().get("/readyz")
    body = res.get_json()
    assert res.status_code == 200, body
    for name in ("database", "broker", "object_store"):
        check = body["checks"][name]
        assert check["ok"] is True and check["latency_ms"] >= 0, (name, check)


def test_metrics_are_protected_and_count_jobs_and_bytes(stack: Stack, app: Flask) -> None:
    client = app.test_client()
    world = seed_world(stack.settings)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=bearer(world.supplier)).status_code in (401, 403, 404)
    seal_case(client, world)
    res = client.get("/metrics", headers=bearer(extra_account(stack.settings, "admin")))
    assert res.status_code == 200
    text = res.get_data(as_text=True)
    assert _sample(text, "exchange_jobs_total", task="process_file", outcome="ok") >= 1, text[:2000]
    assert _sample(text, "exchange_jobs_total", task="seal_case", outcome="ok") >= 1
    assert float(re.search(r"^exchange_upload_bytes_total (\S+)$", text, re.M).group(1)) > 0  # type: ignore[union-attr]
    assert "Kestrel" not in text  # labels are task names and reasons, never document values
