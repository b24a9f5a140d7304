"""Reading a case's access log: applicants of that case only, with a chain check."""

from __future__ import annotations

from typing import Any

from exchange.services import audit
from exchange.services.cases import get_case
from exchange.services.context import ServiceContext


def case_access_log(ctx: ServiceContext, case_id: str) -> dict[str, Any]:
    case = get_case(ctx, case_id)
    events = audit.chain_events(ctx, case.id)
    verdict = audit.verify(events)
    audit.record(ctx, "access_log.read", "ok", "case", case.id)
    return {
        "case_id": case.id,
        "chain": {
            "ok": verdict.ok,
            "length": verdict.length,
            "broken_at": verdict.broken_at,
            "reason": verdict.reason or None,
        },
        "events": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "action": e.action,
                "outcome": e.outcome,
                "actor": e.actor_email,
                "organisation": e.org_name,
                "client_addr": e.client_addr,
                "object": {"type": e.object_type, "id": e.object_id},
                "detail": e.detail,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in events
        ],
    }
