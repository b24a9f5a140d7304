"""The transactional outbox: a job is committed with the state change that implies it.

Invariants:
- ``add`` writes the job in the caller's transaction; nothing reaches the
  broker unless that transaction commits, and a committed job is never lost:
  the relay right after the commit sends it, and when the broker is down
  the periodic relay (``relay_pending``, run by every worker's reconciler
  and by ``exchange reconcile``) sends it later.
- A message row is deleted only after the broker accepted it. A crash
  between the two sends it again; every job is idempotent, so a duplicate
  costs one skipped delivery.
- Relaying never raises into the caller: a request that committed its state
  change answers 202 even while the broker is down.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from exchange.models import OutboxMessage
from exchange.services.context import ServiceContext

log = logging.getLogger(__name__)


def add(ctx: ServiceContext, jobs: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
    """Write ``jobs`` (task name, args) in the caller's transaction; relay them once it commits."""
    now = ctx.clock.now()
    messages = [OutboxMessage(task=task, args=list(args), created_at=now, attempts=0) for task, args in jobs]
    ctx.session.add_all(messages)
    ctx.session.flush()
    ids = [m.id for m in messages]
    ctx.after_commit(lambda: _relay_after_commit(ctx, ids))
    return ids


def _relay_after_commit(ctx: ServiceContext, ids: list[int]) -> None:
    try:
        relay(ctx, ids)
    except Exception:
        ctx.session.rollback()
        log.warning("outbox: relay after commit failed; the periodic relay will retry", exc_info=True)


def relay(
    ctx: ServiceContext, ids: list[int] | None = None, older_than: float = 0.0, limit: int = 500
) -> int:
    """Send messages (the given ones, or every one older than ``older_than`` seconds); the count sent.

    Stops at the first message the broker refuses: the broker is down, and
    the rest would fail the same way.
    """
    query = select(OutboxMessage).order_by(OutboxMessage.id).limit(limit)
    if ids is not None:
        if not ids:
            return 0
        query = query.where(OutboxMessage.id.in_(ids))
    else:
        query = query.where(OutboxMessage.created_at <= ctx.clock.now() - timedelta(seconds=older_than))
    messages = list(ctx.session.scalars(query))
    ctx.session.commit()  # end the read; SQLite would otherwise hold a snapshot while we talk to Redis
    sent = 0
    for message in messages:
        try:
            ctx.queue.enqueue(message.task, *message.args)
        except Exception:
            log.warning("outbox: broker refused %s; will retry", message.task, exc_info=True)
            ctx.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(attempts=OutboxMessage.attempts + 1)
            )
            ctx.session.commit()
            break
        ctx.session.execute(delete(OutboxMessage).where(OutboxMessage.id == message.id))
        ctx.session.commit()
        sent += 1
    return sent
