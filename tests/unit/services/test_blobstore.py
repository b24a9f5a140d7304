from __future__ import annotations

import io
from pathlib import Path

import pyrage
import pytest

from exchange.adapters.blobstores import BlobKeyError, EncryptedBlobStore, FilesystemRawStore
from exchange.domain.bundles.sealing import new_identity


def store_at(root: Path, identity: str | None = None) -> EncryptedBlobStore:
    return EncryptedBlobStore(FilesystemRawStore(root), identity or new_identity()[0])


def test_blobs_are_encrypted_at_rest_and_round_trip(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    key = store.new_key("upload")
    secret = b"Kestrel Dynamics GmbH order 4711" * 100
    store.put(key, io.BytesIO(secret))
    on_disk = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"Kestrel" not in on_disk
    out = io.BytesIO()
    store.get_to(key, out)
    assert out.getvalue() == secret


def test_blobs_written_by_earlier_releases_stay_readable(tmp_path: Path) -> None:
    # Earlier releases wrote age ciphertext to <root>/<kind>/<xx>/<32 hex>.
    identity, recipient = new_identity()
    token = "0f" + "1" * 30
    old = tmp_path / "upload" / "0f" / token
    old.parent.mkdir(parents=True)
    old.write_bytes(pyrage.encrypt(b"order 4711", [pyrage.x25519.Recipient.from_str(recipient)]))
    out = io.BytesIO()
    store_at(tmp_path, identity).get_to(f"upload/0f/{token}", out)
    assert out.getvalue() == b"order 4711"


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "upload/../../x", "/abs/path", "upload/aa/short", "UP/aa/" + "0" * 32]
)
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    store = store_at(tmp_path)
    with pytest.raises(BlobKeyError):
        store.exists(key)
