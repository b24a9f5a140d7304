"""Case services with in-memory fakes of the ports (blob store, queue) on a real SQLite file."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

import pytest

from exchange.domain.bundles.sealing import new_identity
from exchange.domain.bundles.signing import generate_signing_key
from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.models.database import Database, upgrade
from exchange.services import accounts, cases, uploads
from exchange.services.context import ServiceContext
from exchange.settings import Settings

POLICY = """version: 1
name: unit
terms: {customers: ["Kestrel Dynamics GmbH"]}
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""


class MemoryBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self._n = 0

    def new_key(self, kind: str) -> str:
        self._n += 1
        return f"{kind}/{self._n}"

    def put(self, key: str, source: BinaryIO) -> int:
        self.blobs[key] = source.read()
        return len(self.blobs[key])

    def get_to(self, key: str, target: BinaryIO) -> None:
        target.write(self.blobs[key])

    def put_raw(self, key: str, source: BinaryIO) -> int:
        return self.put(key, source)

    def raw_chunks(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        yield self.blobs[key]

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self.blobs


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[object, ...]]] = []

    def enqueue(self, task_name: str, *args: object) -> None:
        self.sent.append((task_name, args))


ACCOUNTS = (
    ("a@example.test", "applicant", "A GmbH"),
    ("s@example.test", "supplier", "S Co"),
    ("b@example.test", "bureau", "B Office"),
    ("x@example.test", "applicant", "X AG"),
)


def unit_settings(instance: Path, url: str) -> Settings:
    return Settings(
        instance_path=instance,
        database_url=url,
        redis_url="redis://127.0.0.1:1/0",
        secret_key="k" * 32,
        storage_identity=new_identity()[0],
        signing_key=generate_signing_key(),
        max_upload_bytes=1024,
    )


def copy_database(template: Path, target: Path) -> str:
    """A private copy of ``template`` at ``target`` (SQLite's backup API, so WAL state cannot tear it)."""
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests take copies of it."""
    path = tmp_path_factory.mktemp("unit-migrated") / "unit.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def accounts_database(migrated_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated file with ``ACCOUNTS`` added through the service, once per session.

    Hashing four passwords with argon2id (and migrating) was most of each test's setup;
    each test still gets a database of its own, equal to one it would have built itself.
    """
    path = tmp_path_factory.mktemp("unit-accounts") / "unit.sqlite3"
    url = copy_database(migrated_database, path)
    database = Database(url)
    session = database.sessions()
    context = ServiceContext(
        session=session,
        blobs=MemoryBlobStore(),
        queue=RecordingQueue(),
        settings=unit_settings(path.parent, url),
    )
    for email, role, org in ACCOUNTS:
        accounts.add_user(context, email, role, org, "long enough password")
    context.commit()
    session.close()
    database.dispose()
    return path


@pytest.fixture
def ctx(tmp_path: Path, accounts_database: Path) -> Iterator[ServiceContext]:
    url = copy_database(accounts_database, tmp_path / "unit.sqlite3")
    database = Database(url)
    session = database.sessions()
    context = ServiceContext(
        session=session,
        blobs=MemoryBlobStore(),
        queue=RecordingQueue(),
        settings=unit_settings(tmp_path, url),
    )
    yield context
    session.close()
    database.dispose()


def as_user(ctx: ServiceContext, email: str) -> ServiceContext:
    user = accounts.authenticate(ctx, email, "long enough password")
    assert user is not None
    ctx.actor = accounts.actor_for(user)
    return ctx


def test_submit_queues_only_after_commit(ctx: ServiceContext) -> None:
    as_user(ctx, "a@example.test")
    case = cases.create_case(ctx, "Magnets", "S Co", "B Office")
    cases.set_policy(ctx, case.id, POLICY)
    uploads.receive_bytes(ctx, case.id, "../../orders.txt", io.BytesIO(b"Kestrel Dynamics GmbH"))
    cases.submit(ctx, case.id)
    queue = ctx.queue
    assert isinstance(queue, RecordingQueue)
    assert queue.sent == []  # nothing leaves before the transaction is durable
    ctx.commit()
    # One job per file, relayed from the outbox once the transaction committed.
    assert queue.sent == [(cases.PROCESS_FILE_TASK, (case.id, case.files[0].id, 1))]
    assert case.files[0].name == "orders.txt"
    with pytest.raises(Conflict):
        cases.submit(ctx, case.id)  # already processing


def test_policy_versions_and_hash(ctx: ServiceContext) -> None:
    as_user(ctx, "a@example.test")
    case = cases.create_case(ctx, "Magnets", "S Co", "B Office")
    first = cases.set_policy(ctx, case.id, POLICY)
    same = cases.set_policy(ctx, case.id, POLICY + "\n# a comment only\n")
    assert same.version == first.version == 1  # same content, same version
    second = cases.set_policy(ctx, case.id, POLICY.replace("Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"))
    assert second.version == 2 and second.content_hash != first.content_hash


def test_access_rules(ctx: ServiceContext) -> None:
    as_user(ctx, "a@example.test")
    case = cases.create_case(ctx, "Magnets", "S Co", "B Office")
    ctx.commit()
    as_user(ctx, "x@example.test")
    with pytest.raises(NotFound):
        cases.get_case(ctx, case.id)
    as_user(ctx, "s@example.test")
    with pytest.raises(Forbidden):
        cases.create_case(ctx, "Mine", "S Co", "B Office")
    as_user(ctx, "a@example.test")
    with pytest.raises(InvalidInput, match="bureau_org"):
        cases.create_case(ctx, "Bad", "S Co", "S Co")
    with pytest.raises(InvalidInput, match="upload at least one file"):
        cases.submit(ctx, case.id)
