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
import time
from collections.abc import Callable

from celery import current_app as current_celery
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from exchange.adapters.job_metrics import record_job_quietly
from exchange.services import previews, processing, sharing
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


def _guarded(run: Service, give_up: GiveUp, what: str, task: str = "job") -> str:
    ctx = _context()
    started, outcome, reason = time.monotonic(), "ok", ""
    try:
        result = run(ctx)
    except TRANSIENT:
        outcome, reason = "retry", "infrastructure"
        raise
    except SoftTimeLimitExceeded:
        outcome, reason = "failed", "time limit"
        return _give_up(give_up, "processing took longer than the configured time limit")
    except Exception:
        # A bug must not leave the case spinning forever, nor crash the worker.
        log.exception("task failed: %s", what)
        outcome, reason = "failed", "internal error"
        return _give_up(give_up, "internal error while processing; the incident was logged")
    else:
        if result == "failed":
            outcome, reason = "failed", "file or case failed"
        return result
    finally:
        ctx.session.close()
        record_job_quietly(ctx.settings.redis_url, task, time.monotonic() - started, outcome, reason)


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
        "process_file",
    )


@shared_task(name="exchange.process_case", acks_late=True, **RETRY)
def process_case(case_id: str, run: int) -> str:
    """Jobs queued before files were processed one job each: queue the run's files."""
    return _guarded(
        lambda ctx: processing.requeue_case(ctx, case_id, run),
        lambda ctx, reason: processing.mark_failed(ctx, case_id, run, reason),
        f"case {case_id} run {run}",
        "process_case",
    )


@shared_task(name="exchange.seal_case", acks_late=True, **RETRY)
def seal_case(case_id: str, run: int) -> str:
    return _guarded(
        lambda ctx: sharing.seal_case(ctx, case_id, run),
        lambda ctx, reason: processing.mark_failed(ctx, case_id, run, reason),
        f"sealing case {case_id} run {run}",
        "seal_case",
    )


@shared_task(name="exchange.render_pages", acks_late=True, **RETRY)
def render_pages(case_id: str, file_id: str, run: int) -> str:
    """Page images of a processed file for the review page (skipped once current or outdated)."""
    return _guarded(
        lambda ctx: previews.render_pages(ctx, case_id, file_id, run),
        lambda ctx, reason: previews.mark_failed(ctx, case_id, file_id, run, reason),
        f"pages of file {file_id} of case {case_id} run {run}",
        "render_pages",
    )
