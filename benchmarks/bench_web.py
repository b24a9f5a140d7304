"""Benchmark: the web edge under load, on a real gunicorn process.

Usage::

    .venv/bin/python benchmarks/bench_web.py [--uploads 10] [--mib 45] [--clients 10] [--requests 200]

Needs Redis on 127.0.0.1:6379 (``TEST_REDIS_URL``). Builds a throw-away
instance (SQLite, fresh secrets), a Celery worker (to seal one bundle) and a
gunicorn gthread server on a free loopback port, then prints:

* the web process's RSS idle, during ``--uploads`` parallel uploads of
  ``--mib`` MiB each (sampled every 50 ms; the peak), and the growth
  (goal: under +50 MB);
* p50 and p99 latency of ``GET /api/v1/cases/{id}`` (case status) and of a
  bundle download, each with ``--clients`` concurrent clients.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange import create_app
from exchange.models.database import upgrade
from exchange.settings import Settings
from tests.conftest import REDIS_BASE, _start_worker, _wait_ready, secret_env
from tests.functional.live_server import live_server
from tests.functional.sealed_case import seal_case
from tests.seed import bearer, seed_world

MIB = 1024 * 1024
BOUNDARY = "bench-boundary-5c1d"


def body(name: str, total: int) -> Iterator[bytes]:
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n').encode()
    block = b"order line for Kestrel Dynamics GmbH, 2,000 N48 segments\n" * 4096
    sent = 0
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed_load(call: Callable[[], requests.Response], clients: int, total: int) -> list[float]:
    def one(_n: int) -> float:
        started = time.perf_counter()
        res = call()
        assert res.status_code == 200, res.status_code
        return time.perf_counter() - started

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(total)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--mib", type=int, default=45)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with TemporaryDirectory(prefix="bench-web-") as tmp:
        instance = Path(tmp)
        redis_url = f"{REDIS_BASE}/15"
        redis.Redis.from_url(redis_url).flushdb()
        env = secret_env(instance, f"sqlite:///{instance / 'exchange.sqlite3'}", redis_url)
        env |= {
            "EXCHANGE_MAX_UPLOAD_BYTES": str((args.mib + 1) * MIB),
            "EXCHANGE_MAX_CONCURRENT_UPLOADS": str(args.uploads),
        }
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        worker = _start_worker(env, f"bench-web-{os.getpid()}", instance / "worker.log")
        try:
            _wait_ready(instance / "worker.log", worker)
            app = create_app(settings)
            sealed = seal_case(app.test_client(), seed_world(settings))
            world = sealed.world
            with live_server(
                env, instance / "gunicorn.log", threads=max(args.uploads, args.clients) + 4
            ) as server:
                case = requests.post(
                    server.url + "/api/v1/cases",
                    headers=bearer(world.applicant),
                    json={
                        "title": "bench",
                        "supplier_org": world.supplier.org,
                        "bureau_org": world.bureau.org,
                    },
                    timeout=30,
                ).json()["id"]
                headers = {
                    **bearer(world.applicant),
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                }
                url = f"{server.url}/api/v1/cases/{case}/files"
                warm = requests.post(url, headers=headers, data=body("warm.txt", MIB), timeout=120)
                assert warm.status_code == 201, warm.text
                idle = server.rss_bytes()
                peak = idle
                stop = threading.Event()

                def sample() -> None:
                    nonlocal peak
                    while not stop.is_set():
                        peak = max(peak, server.rss_bytes())
                        time.sleep(0.05)

                sampler = threading.Thread(target=sample)
                sampler.start()
                started = time.perf_counter()
                with ThreadPoolExecutor(args.uploads) as pool:
                    statuses = list(
                        pool.map(
                            lambda n: (
                                requests.post(
                                    url, headers=headers, data=body(f"u{n}.txt", args.mib * MIB), timeout=600
                                ).status_code
                            ),
                            range(args.uploads),
                        )
                    )
                upload_seconds = time.perf_counter() - started
                stop.set()
                sampler.join()
                assert statuses == [201] * args.uploads, statuses

                status = timed_load(
                    lambda: requests.get(
                        f"{server.url}/api/v1/cases/{case}", headers=bearer(world.applicant), timeout=60
                    ),
                    args.clients,
                    args.requests,
                )
                download = timed_load(
                    lambda: requests.get(
                        f"{server.url}/api/v1/bundles/{sealed.supplier_bundle}/download",
                        headers=bearer(world.supplier),
                        timeout=60,
                    ),
                    args.clients,
                    args.requests,
                )
            app.extensions["exchange"].database.dispose()
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    growth = (peak - idle) / 1e6
    total_mb = args.uploads * args.mib * MIB / 1e6
    rate = total_mb / upload_seconds
    print(f"uploads: {args.uploads} x {args.mib} MiB in parallel, {upload_seconds:.1f} s ({rate:.0f} MB/s)")
    print(f"{'web RSS':<28}{'idle':>10}{'peak':>10}{'growth':>10}{'goal':>10}")
    print(f"{'':<28}{idle / 1e6:>8.1f}MB{peak / 1e6:>8.1f}MB{growth:>+8.1f}MB{'<+50MB':>10}")
    print(f"{'latency, ' + str(args.clients) + ' clients':<28}{'p50':>10}{'p99':>10}{'requests':>10}")
    for label, samples in (("case status", status), ("bundle download", download)):
        p50, p99 = percentiles(samples)
        print(f"{label:<28}{p50:>8.1f}ms{p99:>8.1f}ms{len(samples):>10}")


if __name__ == "__main__":
    main()
