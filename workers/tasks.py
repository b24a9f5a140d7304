"""Thin, idempotent tasks. Each takes ids, opens a context, calls one service.

Idempotency is the services' job: a task names the case's run number, and a
run that is outdated or already finished is skipped. Only transient
infrastructure errors (database or broker connection) are retried; a
DomainError is the file's or case's outcome, never a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from exchange.services import processing, sharing
from exchange.services.context import ServiceContext
from exchange.web.wiring import wiring

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


def _context() -> ServiceContext:
    wired = wiring()
    return ServiceContext(
        session=wired.database.sessions(), blobs=wired.blobs, queue=wired.queue, settings=wired.settings
    )


def _run(service: Callable[[ServiceContext, str, int], str], case_id: str, run: int) -> str:
    ctx = _context()
    try:
        return service(ctx, case_id, run)
    except TRANSIENT:
        raise
    except SoftTimeLimitExceeded:
        return _give_up(case_id, run, "processing took longer than the configured time limit")
    except Exception:
        # A bug must not leave the case spinning forever, nor crash the worker.
        log.exception("task failed for case %s run %s", case_id, run)
        return _give_up(case_id, run, "internal error while processing; the incident was logged")
    finally:
        ctx.session.close()


def _give_up(case_id: str, run: int, reason: str) -> str:
    ctx = _context()
    try:
        return processing.mark_failed(ctx, case_id, run, reason)
    finally:
        ctx.session.close()


@shared_task(
    name="exchange.process_case", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5
)
def process_case(case_id: str, run: int) -> str:
    return _run(processing.process_case, case_id, run)


@shared_task(
    name="exchange.seal_case", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5
)
def seal_case(case_id: str, run: int) -> str:
    return _run(sharing.seal_case, case_id, run)
