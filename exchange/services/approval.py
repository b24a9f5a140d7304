"""What each recipient would receive if the case were approved now.

Built only from the stored outputs (``RedactedFile`` rows and their engine
reports, schema ``exchange.domain.redaction.base.new_report``): the summary
shows what sealing would put in each bundle, never a re-computation that
could disagree with it. A file is in exactly one of a recipient's groups:

* ``files``: shared; with the recipient's file name, redactions per entity
  type and whether the engine flagged it for review;
* ``withheld``: not verified (a leak or an error); sealing refuses the whole
  case while any file is withheld, so the summary says why;
* ``excluded``: left out by the recipient's policy (e.g. ``videos: exclude``);
* ``pending``: not processed in the current run yet.

Only the applicant's organisation reads it (the case's access rule); it
names the recipients' views next to the originals.
"""

from __future__ import annotations

from typing import Any

from exchange.domain.errors import Forbidden
from exchange.models import Case, CaseFile, RedactedFile
from exchange.services import cases
from exchange.services.context import ServiceContext


def _counts(report: dict[str, Any]) -> dict[str, int]:
    raw = report.get("counts")
    if not isinstance(raw, dict):
        return {}
    counts: dict[str, int] = {}
    for entity_type, value in raw.items():
        try:
            counts[str(entity_type)] = int(value)
        except (TypeError, ValueError):
            continue
    return counts


def _entry(row: CaseFile, output: RedactedFile) -> dict[str, Any]:
    report = output.report if isinstance(output.report, dict) else {}
    return {
        "file_id": row.id,
        "name": output.name or row.name,
        "original_name": row.name,
        "size": output.size,
        "counts": _counts(report),
        "needs_review": bool(report.get("needs_review", False)),
        "review_reasons": [str(r) for r in report.get("review_reasons") or []],
    }


def recipient_summary(case: Case, recipient: str) -> dict[str, Any]:
    org = case.supplier_org if recipient == "supplier" else case.bureau_org
    shared: list[dict[str, Any]] = []
    withheld: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for row in case.files:  # upload order
        output = next((o for o in row.outputs if o.recipient == recipient), None)
        if row.status != "processed" or output is None:
            pending.append({"file_id": row.id, "original_name": row.name, "status": row.status})
            continue
        entry = _entry(row, output)
        report = output.report if isinstance(output.report, dict) else {}
        if output.status == "excluded":
            entry["reason"] = str(report.get("excluded") or "left out by the policy")
            excluded.append(entry)
        elif output.status != "ok" or not output.blob_key:
            entry["reason"] = str(report.get("withheld") or "the file could not be redacted")
            withheld.append(entry)
        else:
            shared.append(entry)
            for entity_type, n in entry["counts"].items():
                totals[entity_type] = totals.get(entity_type, 0) + n
    return {
        "recipient": recipient,
        "organisation": org.name,
        "has_key": bool(org.age_recipient),
        "files": shared,
        "counts": dict(sorted(totals.items())),
        "redactions": sum(totals.values()),
        "needs_review": [f for f in shared if f["needs_review"]],
        "withheld": withheld,
        "excluded": excluded,
        "pending": pending,
    }


def approval_summary(ctx: ServiceContext, case_id: str) -> dict[str, Any]:
    """Per recipient: what its bundle would hold; ``ready`` when approving would seal it."""
    if ctx.actor is None or ctx.actor.role != "applicant":
        raise Forbidden("only applicants can do this")
    case = cases.get_case(ctx, case_id)
    recipients = [recipient_summary(case, r) for r in ("supplier", "bureau")]
    actions = cases.case_actions(ctx, case)
    blocked = any(r["withheld"] or r["pending"] or not r["has_key"] for r in recipients)
    return {
        "case_id": case.id,
        "title": case.title,
        "status": case.status,
        "version": case.version,
        "can_approve": "approve" in actions,
        "ready": "approve" in actions and not blocked,
        "recipients": recipients,
    }
