"""Worker entry point: ``celery -A workers.celery_app worker``.

Builds the Flask app (same settings as the web server) and exposes its
Celery instance, so every task runs inside an app context.

Each worker's main process also runs the reconciler (outbox relay, lost-job
re-queue, orphan and workspace clean-up; ``exchange.services.reconciler``)
from a thread every ``EXCHANGE_RECONCILE_INTERVAL_SECONDS``, and writes its
liveness heartbeat to Redis (``exchange.services.health``). No beat process
is needed: any live worker keeps every case moving, and a worker that starts
first removes the workspaces of its dead predecessors.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from exchange import create_app
from exchange.services import health, reconciler
from exchange.services.context import ServiceContext
from exchange.services.workspace import reap_stale_workspaces
from exchange.wiring import worker_wiring

log = logging.getLogger(__name__)

flask_app = create_app()
celery_app: Celery = flask_app.extensions["celery"]
celery_app.conf.include = ["workers.tasks"]
# Import for the side effect of registering tasks when the module is loaded directly.
import workers.tasks  # noqa: E402, F401

app = celery_app
_stop = threading.Event()


def _reconcile_once() -> None:
    wired = worker_wiring(celery_app)
    ctx = ServiceContext(
        session=wired.database.sessions(), blobs=wired.blobs, queue=wired.queue, settings=wired.settings
    )
    try:
        reconciler.reconcile(ctx)
    finally:
        ctx.session.close()


def _loop(name: str) -> None:
    wired = worker_wiring(celery_app)
    interval = wired.settings.reconcile_interval_seconds
    while True:
        try:
            health.beat(wired.settings.redis_url, name, ttl=max(health.HEARTBEAT_TTL, 3 * interval))
        except Exception:  # noqa: BLE001  (Redis down: readiness will say so; keep reconciling)
            log.warning("worker heartbeat: Redis unavailable")
        try:
            _reconcile_once()
        except Exception:
            log.warning("reconciler pass failed; retrying in %ss", interval, exc_info=True)
        if _stop.wait(interval):
            return


@worker_ready.connect
def _start_reconciler(**_kwargs: Any) -> None:
    removed = reap_stale_workspaces()
    if removed:
        log.warning("removed %d workspace(s) left by dead workers", removed)
    name = f"{socket.gethostname()}-{os.getpid()}"
    threading.Thread(target=_loop, args=(name,), name="exchange-reconciler", daemon=True).start()


@worker_shutdown.connect
def _stop_reconciler(**_kwargs: Any) -> None:
    _stop.set()


@worker_process_init.connect
def _fresh_connections(**_kwargs: Any) -> None:
    # A forked pool process must not share the parent's pooled database connections
    # (worker_wiring builds its own per process; the app's wiring is the parent's).
    flask_app.extensions["exchange"].database.engine.dispose(close=False)
