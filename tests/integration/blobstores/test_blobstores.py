"""One contract for every raw store: the filesystem and S3 (a real SeaweedFS), each under encryption."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Iterator

import pytest

from exchange.adapters.blobstores import BlobKeyError
from exchange.adapters.blobstores.s3 import S3RawStore
from tests.integration.blobstores.conftest import StoreUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = b"Kestrel Dynamics GmbH, order 4711, grain boundary diffusion\n"
AGE_HEADER = b"age-encryption.org/v1\n"
MIB = 1024 * 1024


class Generated(io.RawIOBase):
    """``size`` pseudo-random bytes made as they are read, never held whole in memory."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.remaining, self.fail_after = size, fail_after
        self.sent = 0
        self.digest = hashlib.sha256()
        self._block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise ValueError("the client went away")
        size = len(self._block) if size is None or size < 0 else min(size, len(self._block))
        chunk = self._block[: min(size, self.remaining)]
        self.remaining -= len(chunk)
        self.sent += len(chunk)
        self.digest.update(chunk)
        return chunk


class HashingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.digest, self.size = hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def test_put_get_round_trip_keeps_only_ciphertext_at_rest(under_test: StoreUnderTest) -> None:
    store = under_test.store
    key = store.new_key("upload")
    stored = store.put(key, io.BytesIO(SECRET * 50))
    raw = under_test.stored_bytes(key)
    assert stored == len(raw)
    assert raw.startswith(AGE_HEADER)
    assert b"Kestrel" not in raw and b"4711" not in raw
    out = io.BytesIO()
    store.get_to(key, out)
    assert out.getvalue() == SECRET * 50
    assert store.exists(key)


def test_empty_blob_round_trips(under_test: StoreUnderTest) -> None:
    key = under_test.store.new_key("upload")
    under_test.store.put(key, io.BytesIO(b""))
    out = io.BytesIO()
    under_test.store.get_to(key, out)
    assert out.getvalue() == b""


def test_large_blob_streams_with_bounded_memory(under_test: StoreUnderTest) -> None:
    store = under_test.store
    size = 40 * MIB
    key = store.new_key("upload")
    source = Generated(size)
    tracemalloc.start()
    try:
        store.put(key, source)  # type: ignore[arg-type]
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = HashingSink()
        store.get_to(key, sink)  # type: ignore[arg-type]
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == size and sink.digest.hexdigest() == source.digest.hexdigest()
    # One S3 part (8 MiB) and its copy at most; the filesystem store holds a 1 MiB buffer.
    assert put_peak < 20 * MIB, put_peak
    assert get_peak < 4 * MIB, get_peak
    if isinstance(store.raw, S3RawStore):
        upload = store.raw.last_upload
        assert upload is not None and upload.peak_buffered < store.raw.part_size + MIB


def test_put_raw_and_raw_chunks_keep_bytes_as_they_are(under_test: StoreUnderTest) -> None:
    store = under_test.store
    sealed = AGE_HEADER + bytes(range(256)) * 1000
    key = store.new_key("bundle")
    assert store.put_raw(key, io.BytesIO(sealed)) == len(sealed)
    assert under_test.stored_bytes(key) == sealed
    chunks = list(store.raw_chunks(key, chunk_size=10_000))
    assert b"".join(chunks) == sealed
    assert max(len(c) for c in chunks) <= 10_000


def test_delete_is_idempotent_and_missing_blobs_raise_file_not_found(under_test: StoreUnderTest) -> None:
    store = under_test.store
    key = store.new_key("redacted")
    store.put(key, io.BytesIO(SECRET))
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)
    with pytest.raises(FileNotFoundError):
        store.get_to(key, io.BytesIO())
    # Opened before streaming starts, so a download fails before its headers are sent.
    with pytest.raises(FileNotFoundError):
        store.raw_chunks(key)
    assert under_test.names() == []


def test_check_writes_reads_and_deletes_a_probe(under_test: StoreUnderTest) -> None:
    result = under_test.store.check()
    assert result.ok, result
    assert result.status == 200 and result.reason == ""
    assert 0 < result.latency_ms < 10_000
    assert under_test.names() == []


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "upload/../../x",
        "/upload/aa/" + "0" * 32,
        "upload/aa/short",
        "UP/aa/" + "0" * 32,
        "upload/aa/" + "0" * 32 + "/..",
        "upload/aa/" + "0" * 31 + "\n",
    ],
)
def test_keys_the_server_did_not_make_are_refused(under_test: StoreUnderTest, key: str) -> None:
    store = under_test.store
    for attempt in (
        lambda: store.put(key, io.BytesIO(b"x")),
        lambda: store.put_raw(key, io.BytesIO(b"x")),
        lambda: store.get_to(key, io.BytesIO()),
        lambda: store.raw_chunks(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(BlobKeyError):
            attempt()
    assert under_test.names() == []


def test_names_stay_inside_the_root_or_prefix(under_test: StoreUnderTest) -> None:
    store = under_test.store
    keys = [store.new_key(kind) for kind in ("upload", "redacted", "bundle")]
    for key in keys:
        store.put(key, io.BytesIO(SECRET))
    names = under_test.names()
    assert len(names) == 3
    for key in keys:
        assert sum(name.endswith(key) for name in names) == 1
    assert all(".." not in name for name in names)


def test_a_source_failing_midway_stores_nothing(under_test: StoreUnderTest) -> None:
    store = under_test.store
    key = store.new_key("upload")
    # Past the first S3 part, so a multipart upload was started and must be aborted.
    with pytest.raises(ValueError, match="went away"):
        store.put(key, Generated(30 * MIB, fail_after=12 * MIB))  # type: ignore[arg-type]
    assert not store.exists(key)
    assert under_test.names() == []
    assert under_test.leftovers() == []


def test_a_small_source_failing_stores_nothing(under_test: StoreUnderTest) -> None:
    def failing() -> Iterator[bytes]:
        yield SECRET
        raise ValueError("the client went away")

    class Source:
        def __init__(self) -> None:
            self.chunks = failing()

        def read(self, _size: int = -1) -> bytes:
            return next(self.chunks)

    key = under_test.store.new_key("upload")
    with pytest.raises(ValueError, match="went away"):
        under_test.store.put(key, Source())  # type: ignore[arg-type]
    assert not under_test.store.exists(key)
    assert under_test.leftovers() == []
