"""Thin, idempotent tasks. Each takes ids, opens a context, calls one service.

Idempotency is the services' job: a job names the case's run number (and
its file), claims a lease before it works, and a run that is outdated, a
unit already done or one a live job holds is skipped (see
``exchange.services.runs``). Only transient infrastructure errors (database
or broker connection) are retried, a bounded number of times; a DomainError
is the file's or case's outcome, never a retry. A job lost with its worker
is queued again by the reconciler once its lease runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app as current_celery
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from exchange.services import processing, sharing
from exchange.services.context import ServiceContext
from exchange.wiring import worker_wiring

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, ConnectionError, TimeoutError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": True, "retry_backoff_max": 60, "max_retries": 5}


def _context() -> ServiceContext:
    wired = worker_wiring(current_celery._get_current_object())
    return ServiceContext(
        session=wired.database.sessions(), blobs=wired.blobs, queue=wired.queue, settings=wired.settings
    )


Service = Callable[[ServiceContext], str]
GiveUp = Callable[[ServiceContext, str], str]


def _guarded(run: Service, give_up: GiveUp, what: str) -> str:
    ctx = _context()
    try:
        return run(ctx)
    except TRANSIENT:
        raise
    except SoftTimeLimitExceeded:
        return _give_up(give_up, "processing took longer than the configured time limit")
    except Exception:
        # A bug must not leave the case spinning forever, nor crash the worker.
        log.exception("task failed: %s", what)
        return _give_up(give_up, "internal error while processing; the incident was logged")
    finally:
        ctx.session.close()


def _give_up(give_up: GiveUp, reason: str) -> str:
    ctx = _context()
    try:
        return give_up(ctx, reason)
    finally:
        ctx.session.close()


@shared_task(name="exchange.process_file", acks_late=True, **RETRY)
def process_file(case_id: str, file_id: str, run: int) -> str:
    return _guarded(
        lambda ctx: processing.process_file(ctx, case_id, file_id, run),
        lambda ctx, reason: processing.mark_file_failed(ctx, case_id, file_id, run, reason),
        f"file {file_id} of case {case_id} run {run}",
    )


@shared_task(name="exchange.process_case", acks_late=True, **RETRY)
def process_case(case_id: str, run: int) -> str:
    """Jobs queued before files were processed one job each: queue the run's files."""
    return _guarded(
        lambda ctx: processing.requeue_case(ctx, case_id, run),
        lambda ctx, reason: processing.mark_failed(ctx, case_id, run, reason),
        f"case {case_id} run {run}",
    )


@shared_task(name="exchange.seal_case", acks_late=True, **RETRY)
def seal_case(case_id: str, run: int) -> str:
    return _guarded(
        lambda ctx: sharing.seal_case(ctx, case_id, run),
        lambda ctx, reason: processing.mark_failed(ctx, case_id, run, reason),
        f"sealing case {case_id} run {run}",
    )
