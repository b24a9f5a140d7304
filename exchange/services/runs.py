"""Leases, row locks and label merging for background jobs.

Invariants:
- A job owns its unit of work (a file of a run, or a case's sealing) only
  while its lease lies in the future and names the job's token. Claiming is
  one conditional UPDATE, so of two deliveries of one job only one wins; the
  other is skipped. A running job renews its lease from a heartbeat thread,
  so the lease can be short (``EXCHANGE_JOB_LEASE_SECONDS``) while a file
  takes as long as it needs. A job whose worker died stops renewing; once
  its lease ran out the reconciler queues it again.
- A job writes its results only under the case's row lock (``SELECT ... FOR
  UPDATE`` on PostgreSQL; on SQLite an UPDATE first, which takes the
  database's single write lock), after checking it still holds its lease.
- Label state is merged, never overwritten: a file's new labels are added to
  what other files committed meanwhile; a label number taken by another
  value meanwhile makes the file run again from the merged state.
- A run ends (:func:`finalise_if_done`, under the case's lock) when none of
  the case's files is queued or running, whichever file's job, submit or
  reconciler gets there: files the run did not need to redo count as done.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from exchange.models import Case, CaseFile
from exchange.services import audit
from exchange.services.context import ServiceContext, SystemClock

log = logging.getLogger(__name__)


def new_token() -> str:
    """A lease owner: unique per job attempt, with the pid to help an operator."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:16]}"


def lease_end(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)


def lock_case(session: Session, case_id: str) -> Case | None:
    """The case, locked against other writers until the transaction ends."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks; a write takes the database's write lock (waiting
        # for it under busy_timeout), so every later read in this transaction is current.
        session.execute(update(Case).where(Case.id == case_id).values(progress=Case.progress))
        return session.get(Case, case_id, populate_existing=True)
    # Lock the bare row: the Case mapper joins its organisations, and PostgreSQL
    # refuses FOR UPDATE on the nullable side of an outer join.
    session.execute(select(Case.id).where(Case.id == case_id).with_for_update())
    return session.get(Case, case_id, populate_existing=True)


def merge_label_state(
    current: Mapping[str, Any] | None, base: Mapping[str, Any] | None, mine: Mapping[str, Any]
) -> dict[str, Any] | None:
    """``current`` plus the labels ``mine`` added to ``base``; None on a conflict.

    A conflict is a value that got another label meanwhile, or a label that
    another value took meanwhile: the file's output then carries labels that
    would break "same value, same label; different values, different labels",
    and must be redone from the merged state.
    """
    if not current:
        return dict(mine)
    if current.get("salt") != mine.get("salt") or current.get("v") != mine.get("v"):
        return None
    labels: dict[str, str] = dict(current.get("labels") or {})
    used = set(labels.values())
    known = dict((base or {}).get("labels") or {})
    for digest, label in dict(mine.get("labels") or {}).items():
        if known.get(digest) == label:
            continue
        have = labels.get(digest)
        if have is not None:
            if have != label:
                return None
            continue
        if label in used:
            return None
        labels[digest] = label
        used.add(label)
    counters: dict[str, int] = dict(current.get("next") or {})
    for kind, number in dict(mine.get("next") or {}).items():
        counters[kind] = max(int(number), int(counters.get(kind, 0)))
    return {**dict(current), "labels": labels, "next": counters}


class Heartbeat:
    """Renews a lease every third of its length on its own connection, until stopped.

    Runs in the job's (parent) process while the sandboxed child works, so
    a lease outlives a slow file but not a dead worker. ``lost`` turns true
    when the lease was taken over (the renewal found another owner).
    """

    def __init__(
        self, engine: Engine, table: type[Case] | type[CaseFile], row_id: str, token: str, seconds: int
    ) -> None:
        self.engine, self.table, self.row_id, self.token, self.seconds = engine, table, row_id, token, seconds
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{row_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(max(self.seconds / 3, 0.5)):
            try:
                with Session(self.engine) as session:
                    table = self.table
                    done = session.execute(
                        update(table)
                        .where(table.id == self.row_id, table.lease_owner == self.token)
                        .values(lease_until=lease_end(SystemClock().now(), self.seconds))
                        .execution_options(synchronize_session=False)
                    )
                    session.commit()
                if done.rowcount == 0:  # type: ignore[attr-defined]
                    self.lost = True
                    return
            except Exception:
                log.warning("could not renew the lease of %s", self.row_id, exc_info=True)


def finalise_if_done(ctx: ServiceContext, case: Case) -> str | None:
    """Called under the case's lock: end the run when none of its files is still queued or running.

    Files a run did not queue (unchanged since they were processed) count as
    done, so a run that changed nothing ends at once.
    """
    if case.status != "processing":
        return None
    rows = ctx.session.execute(
        select(CaseFile.status, func.count()).where(CaseFile.case_id == case.id).group_by(CaseFile.status)
    ).all()
    by_status: dict[str, int] = {str(status): int(n) for status, n in rows}
    total = sum(by_status.values())
    pending = by_status.get("queued", 0) + by_status.get("running", 0) + by_status.get("uploaded", 0)
    case.progress = int(100 * (total - pending) / total) if total else 100
    if pending:
        return None
    failed = list(
        ctx.session.execute(
            select(CaseFile.name, CaseFile.error)
            .where(CaseFile.case_id == case.id, CaseFile.status == "failed")
            .order_by(CaseFile.created_at)
        ).all()
    )
    if failed:
        problems = [f"{name}: {error}" for name, error in failed]
        reason = "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        case.status, case.error = "failed", reason
        detail = {"reason": reason}
        audit.record(ctx, "case.processed", "failed", "case", case.id, chain=case.id, detail=detail)
        return "failed"
    case.status, case.error = "review", None
    audit.record(
        ctx, "case.processed", "ok", "case", case.id, chain=case.id, detail={"run": case.run, "files": total}
    )
    return "review"
