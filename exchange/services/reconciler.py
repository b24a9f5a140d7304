"""The reconciler: makes the database's idea of running work true again.

Every worker process runs :func:`reconcile` every
``EXCHANGE_RECONCILE_INTERVAL_SECONDS`` from a thread (started on Celery's
``worker_ready``), and operators run it with ``exchange reconcile``. Several
may run at once (one per worker machine): each step is a conditional UPDATE
or an idempotent job, so running it twice does no harm.

What it does, each pass:
- relays outbox messages the relay after commit could not send (broker down);
- re-queues a file job whose lease ran out (its worker died or stalled),
  and a queued file job not started within a lease (its message was lost,
  e.g. a Redis restarted without persistence); a job it queued twice is
  skipped by the second delivery;
- re-queues sealing whose lease ran out, or that never started within a lease;
- finalises a run whose files are all done but whose case is still
  ``processing`` (its last job died between the two);
- deletes blobs announced in ``pending_blobs`` by a job that died before
  adopting them (older than two leases);
- removes worker workspaces whose owning process is dead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, delete, or_, select, update

from exchange.models import Case, CaseFile, PendingBlob
from exchange.services import outbox, processing, resumable
from exchange.services.cases import PROCESS_FILE_TASK, SEAL_TASK
from exchange.services.context import ServiceContext
from exchange.services.workspace import reap_stale_workspaces

log = logging.getLogger(__name__)

UPLOAD_PART_GRACE = timedelta(hours=1)


@dataclass
class Pass:
    relayed: int = 0
    requeued_files: list[str] = field(default_factory=list)
    requeued_sealing: list[str] = field(default_factory=list)
    finalised: list[str] = field(default_factory=list)
    orphans_deleted: int = 0
    workspaces_removed: int = 0
    uploads_expired: int = 0


def reconcile(ctx: ServiceContext) -> Pass:
    done = Pass()
    done.requeued_files = _requeue_files(ctx)
    done.requeued_sealing = _requeue_sealing(ctx)
    done.finalised = _finalise_finished_runs(ctx)
    done.orphans_deleted = _delete_orphans(ctx)
    done.workspaces_removed = reap_stale_workspaces()
    done.uploads_expired = resumable.expire(ctx)
    done.relayed = outbox.relay(ctx, older_than=2.0)
    return done


def _requeue_files(ctx: ServiceContext) -> list[str]:
    now = ctx.clock.now()
    lease = timedelta(seconds=ctx.settings.job_lease_seconds)
    live = select(Case.id).where(Case.status == "processing", Case.run == CaseFile.run)
    stale = or_(
        and_(CaseFile.status == "running", CaseFile.lease_until < now),
        and_(CaseFile.status == "queued", CaseFile.queued_at < now - lease),
    )
    rows = ctx.session.execute(
        select(CaseFile.id, CaseFile.case_id, CaseFile.run).where(CaseFile.case_id.in_(live), stale)
    ).all()
    ctx.session.commit()
    requeued: list[str] = []
    for file_id, case_id, run in rows:
        # Conditional: a job that renewed its lease or finished meanwhile keeps its file.
        changed = ctx.session.execute(
            update(CaseFile)
            .where(CaseFile.id == file_id, CaseFile.run == run, stale)
            .values(status="queued", queued_at=now, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            outbox.add(ctx, [(PROCESS_FILE_TASK, (case_id, file_id, run))])
            requeued.append(file_id)
        ctx.commit()
    if requeued:
        log.warning("reconciler: re-queued %d file job(s) with no live worker", len(requeued))
    return requeued


def _requeue_sealing(ctx: ServiceContext) -> list[str]:
    now = ctx.clock.now()
    lease = timedelta(seconds=ctx.settings.job_lease_seconds)
    stale = and_(
        Case.status == "sealing",
        or_(Case.lease_until < now, and_(Case.lease_until.is_(None), Case.updated_at < now - lease)),
    )
    rows = ctx.session.execute(select(Case.id, Case.run).where(stale)).all()
    ctx.session.commit()
    requeued: list[str] = []
    for case_id, run in rows:
        changed = ctx.session.execute(
            update(Case)
            .where(Case.id == case_id, Case.run == run, stale)
            .values(lease_owner=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            outbox.add(ctx, [(SEAL_TASK, (case_id, run))])
            requeued.append(case_id)
        ctx.commit()
    return requeued


def _finalise_finished_runs(ctx: ServiceContext) -> list[str]:
    pending = select(CaseFile.id).where(
        CaseFile.case_id == Case.id, CaseFile.status.in_(("queued", "running", "uploaded"))
    )
    rows = ctx.session.execute(
        select(Case.id, Case.run).where(Case.status == "processing", ~pending.exists())
    ).all()
    ctx.session.commit()
    finalised = []
    for case_id, run in rows:
        if processing.finalise_case(ctx, case_id, run) in ("review", "failed"):
            finalised.append(case_id)
    return finalised


def _delete_orphans(ctx: ServiceContext) -> int:
    now = ctx.clock.now()
    cutoff = now - timedelta(seconds=2 * ctx.settings.job_lease_seconds)
    # A resumable upload's part is written while a slow client sends it: give it an hour.
    part_cutoff = now - UPLOAD_PART_GRACE
    is_part = PendingBlob.key.like("uploadpart/%")
    old = or_(and_(~is_part, PendingBlob.created_at < cutoff), PendingBlob.created_at < part_cutoff)
    keys = list(ctx.session.scalars(select(PendingBlob.key).where(old).limit(500)))
    ctx.session.commit()
    for key in keys:
        ctx.blobs.delete(key)
        ctx.session.execute(delete(PendingBlob).where(PendingBlob.key == key))
        ctx.commit()
    return len(keys)
