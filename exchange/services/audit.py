"""The access log: append-only, hash-chained per case.

Every service that reveals or changes protected data records an event here,
including refusals. Appends run in a savepoint and retry when another writer
took the same sequence number, so concurrent downloads cannot fork a chain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from exchange.domain.audit.chain import GENESIS, ChainedEvent, ChainVerdict, event_hash, verify_chain
from exchange.models import AuditEvent
from exchange.services.context import ServiceContext

SYSTEM_CHAIN = "system"


def record(
    ctx: ServiceContext,
    action: str,
    outcome: str,
    object_type: str,
    object_id: str | None,
    *,
    chain: str = SYSTEM_CHAIN,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    actor = ctx.actor
    for _attempt in range(8):
        last = ctx.session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        event = AuditEvent(
            chain=chain,
            seq=seq,
            at=ctx.clock.now(),
            action=action,
            outcome=outcome,
            actor_user_id=actor.user_id if actor else None,
            actor_email=actor.email if actor else None,
            org_name=actor.org_name if actor else None,
            client_addr=ctx.client_addr,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            prev_hash=prev,
        )
        # The hash covers exactly what verification later reads back.
        event.hash = event_hash(prev, payload_of(event))
        try:
            with ctx.session.begin_nested():
                ctx.session.add(event)
        except IntegrityError:
            continue
        return event
    raise RuntimeError("could not append to the access log after repeated conflicts")


def payload_of(event: AuditEvent) -> dict[str, Any]:
    return {
        "chain": event.chain,
        "seq": event.seq,
        "at": event.at.isoformat(),
        "action": event.action,
        "outcome": event.outcome,
        "actor_email": event.actor_email,
        "org_name": event.org_name,
        "client_addr": event.client_addr,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "detail": event.detail,
    }


def chain_events(ctx: ServiceContext, chain: str) -> list[AuditEvent]:
    return list(
        ctx.session.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
    )


def verify(events: list[AuditEvent]) -> ChainVerdict:
    return verify_chain(ChainedEvent(e.seq, payload_of(e), e.prev_hash, e.hash) for e in events)


def verify_all(ctx: ServiceContext, chain: str | None = None) -> list[tuple[str, ChainVerdict]]:
    """Verify every chain (or one), for operators; reading is itself recorded."""
    names = (
        [chain]
        if chain
        else list(ctx.session.scalars(select(AuditEvent.chain).distinct().order_by(AuditEvent.chain)))
    )
    verdicts = [(name, verify(chain_events(ctx, name))) for name in names]
    record(
        ctx,
        "access_log.verified",
        "ok" if all(v.ok for _, v in verdicts) else "broken",
        "chain",
        chain,
        detail={"chains": len(verdicts)},
    )
    return verdicts
