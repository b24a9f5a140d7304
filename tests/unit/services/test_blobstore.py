from __future__ import annotations

import io
from pathlib import Path

import pytest

from exchange.adapters.blobstore import BlobKeyError, FilesystemBlobStore
from exchange.domain.bundles.sealing import new_identity


def test_blobs_are_encrypted_at_rest_and_round_trip(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path, new_identity()[0])
    key = store.new_key("upload")
    secret = b"Kestrel Dynamics GmbH order 4711" * 100
    store.put(key, io.BytesIO(secret))
    on_disk = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"Kestrel" not in on_disk
    out = io.BytesIO()
    store.get_to(key, out)
    assert out.getvalue() == secret


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "upload/../../x", "/abs/path", "upload/aa/short", "UP/aa/" + "0" * 32]
)
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    store = FilesystemBlobStore(tmp_path, new_identity()[0])
    with pytest.raises(BlobKeyError):
        store.exists(key)
