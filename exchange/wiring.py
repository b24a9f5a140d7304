"""The composition root: the one place where settings, database, blob store and queue meet.

The web app (``create_app``), the Celery workers (``worker_wiring``) and the
CLI (``exchange.cli.runtime``) all call ``build``; none constructs a store,
a database or a queue of its own. Adapters are chosen here by configuration
(``EXCHANGE_BLOB_URL``, ``DATABASE_URL``, ``REDIS_URL``), so a deployment
on several machines changes settings, not code.

Nothing here talks to a server: building a wiring opens no connection, so a
process starts even while the object store or the broker is down, and the
readiness check (``blobs.check()``) reports it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exchange.adapters.blobstores import blob_store
from exchange.adapters.queue import CeleryTaskQueue
from exchange.adapters.throttle import LoginThrottle
from exchange.models.database import Database
from exchange.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from exchange.ports import BlobStore, TaskQueue


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    database: Database
    blobs: BlobStore
    queue: TaskQueue
    login_throttle: LoginThrottle

    def close(self) -> None:
        self.database.dispose()


def build(settings: Settings | None = None, *, queue: TaskQueue | None = None) -> Wiring:
    """Every adapter a process needs, from ``settings`` (the environment when omitted).

    ``queue`` defaults to Celery on the configured broker, sending tasks by name.
    """
    settings = settings or Settings.from_env()
    return Wiring(
        settings=settings,
        database=Database(settings.database_url),
        blobs=blob_store(settings),
        queue=queue or CeleryTaskQueue(broker_celery(settings)),
        login_throttle=LoginThrottle(settings.redis_url),
    )


def broker_celery(settings: Settings) -> Celery:
    """A Celery app that only sends tasks by name (no task code is imported)."""
    from celery import Celery  # noqa: PLC0415 - Celery loads lazily where only the CLI runs

    from exchange.extensions import sender_conf  # noqa: PLC0415 - with Celery, lazily

    celery = Celery("exchange", set_as_current=False)
    celery.conf.update(**sender_conf(settings))
    return celery


class _PerProcess:
    """One wiring per OS process: connections and clients must not cross a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._wiring: Wiring | None = None

    def get(self, celery: Celery | None) -> Wiring:
        with self._lock:
            if self._wiring is None or self._pid != os.getpid():
                queue = CeleryTaskQueue(celery) if celery is not None else None
                self._wiring, self._pid = build(queue=queue), os.getpid()
            return self._wiring


_worker = _PerProcess()


def worker_wiring(celery: Celery | None = None) -> Wiring:
    """The worker process's wiring, built on first use in each (forked) process.

    Pass the worker's Celery app so tasks queued by services go through the
    same broker configuration; without it a send-only app is made.
    """
    return _worker.get(celery)
