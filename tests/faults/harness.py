"""A private real stack for fault tests: its own redis-server, database, worker and app.

Everything listens on 127.0.0.1 on free ports and lives under a temp dir;
leases are short (``LEASE`` seconds) and the reconciler runs every second,
so a lost job is recovered within seconds. Each helper is bounded in time.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from exchange import create_app
from exchange.models import Bundle, CaseFile, PageImage, PendingBlob, RedactedFile, UploadSession
from exchange.models.database import Database, upgrade
from exchange.services import audit
from exchange.services.context import ServiceContext
from exchange.settings import Settings
from tests.conftest import ROOT, TEST_QUEUE, secret_env
from tests.seed import World, bearer, new_case, seed_world

LEASE = 6
POLICY = """version: 1
name: faults
terms: {customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]}
recipients:
  bureau: {redact: [CUSTOMER, EMAIL_ADDRESS], style: label}
  supplier: {redact: [CUSTOMER]}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def text_file(index: int, kib: int) -> bytes:
    line = f"Order {index} for Kestrel Dynamics GmbH, contact buyer{index}@example.com, ships soon.\n"
    return (line * (kib * 1024 // len(line) + 1)).encode()


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # no persistence: whatever was queued is gone
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class FaultStack:
    root: Path
    redis: RedisServer
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    worker: subprocess.Popen[bytes] | None = None
    worker_logs: list[Path] = field(default_factory=list)
    app: Flask | None = None
    world: World | None = None

    # -- processes ------------------------------------------------------------
    def start_worker(self, concurrency: int = 1) -> None:
        log = self.root / f"worker-{len(self.worker_logs)}.log"
        self.worker_logs.append(log)
        with log.open("wb") as handle:
            self.worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers.celery_app",
                    "worker",
                    "--pool=prefork",
                    f"--concurrency={concurrency}",
                    "-Q",
                    TEST_QUEUE,
                    "-n",
                    f"fault-{os.getpid()}-{len(self.worker_logs)}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a test can SIGKILL all of it
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.tail())
            if b" ready." in log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError("worker did not become ready:\n" + self.tail())

    def kill_worker(self) -> None:
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)
        self.worker = None

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(timeout=10)
        self.worker = None

    def tail(self, lines: int = 40) -> str:
        if not self.worker_logs:
            return ""
        return "\n".join(self.worker_logs[-1].read_text(errors="replace").splitlines()[-lines:])

    # -- the app ----------------------------------------------------------------
    @property
    def headers(self) -> dict[str, str]:
        assert self.world is not None
        return bearer(self.world.applicant)

    def new_case_with_files(self, files: dict[str, bytes], policy: str = POLICY) -> str:
        assert self.app is not None and self.world is not None
        client = self.app.test_client()
        case_id = new_case(client, self.world, "fault case", policy)
        for name, data in files.items():
            res = client.post(
                f"/api/v1/cases/{case_id}/files",
                headers=self.headers,
                data={"file": (io.BytesIO(data), name)},
                content_type="multipart/form-data",
            )
            assert res.status_code == 201, res.get_json()
        return case_id

    def status(self, case_id: str) -> dict[str, Any]:
        assert self.app is not None
        res = self.app.test_client().get(f"/api/v1/cases/{case_id}", headers=self.headers)
        assert res.status_code == 200, (res.status_code, res.get_data()[:300])
        body: dict[str, Any] = res.get_json()
        return body

    def wait_for(self, case_id: str, wanted: set[str], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.status(case_id)
            if body["status"] in wanted:
                return body
            time.sleep(0.3)
        pytest.fail(f"case stuck at {body.get('status')} after {timeout}s\n{self.tail()}")

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}\n{self.tail()}")

    def file_statuses(self, case_id: str) -> list[str]:
        return [f["status"] for f in self.status(case_id)["files"]]

    # -- the invariants every fault test ends with -----------------------------
    def assert_consistent(self, case_id: str) -> None:
        """No orphaned or missing blobs, no pending blob, and a valid access-log chain."""
        assert self.settings is not None and self.app is not None
        wired = self.app.extensions["exchange"]
        database = Database(self.settings.database_url)
        try:
            with database.session() as session:
                known: set[str] = set()
                known.update(session.scalars(select(CaseFile.blob_key)))
                known.update(k for k in session.scalars(select(RedactedFile.blob_key)) if k)
                known.update(session.scalars(select(Bundle.blob_key)))
                known.update(k for k in session.scalars(select(PageImage.blob_key)) if k)  # page 0: a summary
                for parts in session.scalars(select(UploadSession.parts)):
                    known.update(str(part[0]) for part in parts)
                pending = list(session.scalars(select(PendingBlob.key)))
                ctx = ServiceContext(
                    session=session, blobs=wired.blobs, queue=wired.queue, settings=self.settings
                )
                verdict = audit.verify(audit.chain_events(ctx, case_id))
        finally:
            database.dispose()
        root = self.settings.blob_root
        stored = {
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")
        }
        assert pending == [], f"blobs announced but never adopted: {pending}"
        assert stored == known, f"orphans: {sorted(stored - known)}; missing: {sorted(known - stored)}"
        assert verdict.ok, verdict


@contextmanager
def fault_stack(root: Path, database_url: str | None = None, **extra_env: str) -> Iterator[FaultStack]:
    root.mkdir(parents=True, exist_ok=True)
    server = RedisServer(root)
    server.start()
    instance = root / "instance"
    instance.mkdir()
    url = database_url or f"sqlite:///{instance / 'exchange.sqlite3'}"
    stack = FaultStack(root, server, url)
    stack.env = {
        **secret_env(instance, url, server.url),
        "EXCHANGE_JOB_LEASE_SECONDS": str(LEASE),
        "EXCHANGE_RECONCILE_INTERVAL_SECONDS": "1",
        "EXCHANGE_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
        **extra_env,
    }
    stack.settings = Settings.from_env(stack.env)
    upgrade(stack.settings.database_url)
    try:
        stack.app = create_app(stack.settings)
        stack.world = seed_world(stack.settings)
        yield stack
    finally:
        stack.stop_worker()
        if stack.app is not None:
            stack.app.extensions["exchange"].database.dispose()
        server.stop()
