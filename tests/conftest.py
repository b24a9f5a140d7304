"""Shared fixtures: a real stack per database backend.

``stack`` gives, per backend (SQLite file, PostgreSQL database created for
the run), a migrated database, an instance folder with fresh secrets, and a
real Celery worker process on a private Redis database number, so two
backends' workers never take each other's tasks.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from exchange.domain.bundles.sealing import new_identity
from exchange.domain.bundles.signing import generate_signing_key
from exchange.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
# Each checkout gets its own pair of Redis database numbers (1..14), so two
# test runs on one machine (a developer's and CI's) never share a queue.
_PAIR = int(os.environ.get("TEST_REDIS_PAIR") or zlib.crc32(str(ROOT).encode()) % 7) % 7
REDIS_DB = {"sqlite": 1 + 2 * _PAIR, "postgresql": 2 + 2 * _PAIR}
#: Each test session also queues on its own Celery queue: two sessions in one
#: checkout (or with colliding database numbers) never take each other's jobs.
TEST_QUEUE = f"exchange-test-{os.getpid()}"


def secret_env(instance: Path, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "EXCHANGE_INSTANCE": str(instance),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EXCHANGE_SECRET_KEY": secrets.token_urlsafe(32),
        "EXCHANGE_STORAGE_IDENTITY": new_identity()[0],
        "EXCHANGE_SIGNING_KEY": generate_signing_key(),
        "EXCHANGE_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
        "EXCHANGE_TASK_TIME_LIMIT": "300",
        "EXCHANGE_QUEUE": TEST_QUEUE,
    }


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test on the stack runs on both backends, except backend-independent ones
    # (web layer, browser, fuzzing), which run once, on the embedded default.
    if "stack" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        backends = ["sqlite"] if sqlite_only else ["sqlite", "postgresql"]
        metafunc.parametrize("stack", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = f"exchange_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    backend: str
    settings: Settings
    env: dict[str, str]
    worker: subprocess.Popen[bytes]
    worker_log: Path

    def worker_tail(self, lines: int = 60) -> str:
        return "\n".join(self.worker_log.read_text(errors="replace").splitlines()[-lines:])


def _start_worker(env: dict[str, str], name: str, log_path: Path) -> subprocess.Popen[bytes]:
    # The child keeps its own copy of the descriptor; ours closes on leaving the block.
    with log_path.open("wb") as handle:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "-Q",
                env["EXCHANGE_QUEUE"],
                "-n",
                f"{name}@%h",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(log_path: Path, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("worker exited:\n" + log_path.read_text(errors="replace")[-4000:])
        if b" ready." in log_path.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError("worker did not become ready:\n" + log_path.read_text(errors="replace")[-4000:])


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from exchange.models.database import upgrade

    backend: str = request.param
    instance = tmp_path_factory.mktemp(f"instance-{backend}")
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_database")
    else:
        database_url = f"sqlite:///{instance / 'exchange.sqlite3'}"
    redis_url = f"{REDIS_BASE}/{REDIS_DB[backend]}"
    redis.Redis.from_url(redis_url).flushdb()
    env = secret_env(instance, database_url, redis_url)
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    log_path = instance / "worker.log"
    worker = _start_worker(env, f"test-{backend}-{os.getpid()}", log_path)
    try:
        _wait_ready(log_path, worker)
        yield Stack(backend, settings, env, worker, log_path)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
