"""Worker liveness for readiness checks: a heartbeat key per worker in Redis.

Each worker process writes ``exchange:worker:<name>`` with a short TTL from
its reconciler thread; :func:`worker_alive` is true while at least one such
key exists. A worker that dies stops writing and its key expires within
``HEARTBEAT_TTL`` seconds. The key holds no secret, only a timestamp.
"""

from __future__ import annotations

import time

import redis

HEARTBEAT_PREFIX = "exchange:worker:"
HEARTBEAT_TTL = 30


def beat(redis_url: str, name: str, ttl: int = HEARTBEAT_TTL) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    client.set(f"{HEARTBEAT_PREFIX}{name}", str(int(time.time())), ex=ttl)


def live_workers(redis_url: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    keys = client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100)
    return sorted(k.decode(errors="replace").removeprefix(HEARTBEAT_PREFIX) for k in keys)


def worker_alive(redis_url: str) -> bool:
    """True when some worker wrote its heartbeat recently; False, never an error, when Redis is down."""
    try:
        return bool(live_workers(redis_url))
    except redis.RedisError:
        return False
