"""Twenty parallel uploads and twenty parallel downloads against a real gunicorn process."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from exchange import create_app
from tests.conftest import Stack
from tests.functional.live_server import LiveServer, live_server
from tests.functional.sealed_case import SealedCase, seal_case
from tests.seed import bearer, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

PARALLEL = 20


@pytest.fixture(scope="module")
def sealed(stack: Stack) -> Iterator[SealedCase]:
    app = create_app(stack.settings)
    yield seal_case(app.test_client(), seed_world(stack.settings))
    app.extensions["exchange"].database.dispose()


@pytest.fixture(scope="module")
def server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**stack.env, "EXCHANGE_MAX_CONCURRENT_UPLOADS": str(PARALLEL)}
    with live_server(env, tmp_path_factory.mktemp("web") / "gunicorn.log", threads=PARALLEL + 4) as live:
        yield live


def test_parallel_uploads_and_downloads(sealed: SealedCase, server: LiveServer) -> None:
    world = sealed.world
    res = requests.post(
        server.url + "/api/v1/cases",
        headers=bearer(world.applicant),
        json={"title": "parallel", "supplier_org": world.supplier.org, "bureau_org": world.bureau.org},
        timeout=30,
    )
    case_id = res.json()["id"]
    contents = {
        f"part-{n:02d}.txt": (f"line {n} ".encode() + os.urandom(8).hex().encode() + b"\n") * 20000
        for n in range(PARALLEL)
    }

    def upload(name: str) -> requests.Response:
        return requests.post(
            f"{server.url}/api/v1/cases/{case_id}/files",
            headers=bearer(world.applicant),
            files={"file": (name, contents[name])},
            timeout=120,
        )

    def download(_n: int) -> requests.Response:
        return requests.get(
            f"{server.url}/api/v1/bundles/{sealed.supplier_bundle}/download",
            headers=bearer(world.supplier),
            timeout=120,
        )

    with ThreadPoolExecutor(PARALLEL) as pool:
        uploads = list(pool.map(upload, contents))
        downloads = list(pool.map(download, range(PARALLEL)))

    assert [r.status_code for r in uploads] == [201] * PARALLEL, [
        r.text for r in uploads if r.status_code != 201
    ]
    for res in uploads:
        body = res.json()
        data = contents[body["name"]]
        assert body["size"] == len(data) and body["sha256"] == hashlib.sha256(data).hexdigest()
    listed = requests.get(f"{server.url}/api/v1/cases/{case_id}", headers=bearer(world.applicant), timeout=30)
    assert sorted(f["name"] for f in listed.json()["files"]) == sorted(contents)

    assert [r.status_code for r in downloads] == [200] * PARALLEL
    hashes = {hashlib.sha256(r.content).hexdigest() for r in downloads}
    assert hashes == {downloads[0].headers["X-Bundle-SHA256"]}
    assert {len(r.content) for r in downloads} == {int(downloads[0].headers["Content-Length"])}

    log = requests.get(
        f"{server.url}/api/v1/cases/{sealed.case_id}/access-log", headers=bearer(world.applicant), timeout=30
    ).json()
    assert log["chain"]["ok"] is True, log["chain"]
    ok = [e for e in log["events"] if e["action"] == "bundle.download" and e["outcome"] == "ok"]
    assert len(ok) >= PARALLEL
    upload_log = requests.get(
        f"{server.url}/api/v1/cases/{case_id}/access-log", headers=bearer(world.applicant), timeout=30
    ).json()
    assert upload_log["chain"]["ok"] is True
    assert len([e for e in upload_log["events"] if e["action"] == "file.uploaded"]) == PARALLEL
    # No 5xx and no traceback in the server's log.
    text = server.log_text()
    assert '"status": 5' not in text and "Traceback" not in text, text[-3000:]
    assert Path(f"/proc/{server.proc.pid}").exists()
