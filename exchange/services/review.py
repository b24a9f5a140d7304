"""The applicant's review: decisions on findings, text selections, manual boxes, declared terms.

Use cases for the review API, and the two functions processing and
submission build on: :func:`file_review` (what a run applies to one file)
and :func:`processed_key` (whether a file's outputs are still current).

Invariants:

* Only applicants of the case's organisation read or change a review (other
  organisations get NotFound, so ids cannot be probed; other roles
  Forbidden), and every change is allowed by the case's lifecycle
  (``Action.REVIEW``): a case being processed, sealed, sealing or archived
  is refused with 409 before any object is looked up.
* Review rows are stored, never applied here. They take effect on the next
  submit, which re-processes exactly the files whose :func:`processed_key`
  changed. A change therefore returns a case in review to draft: approving
  would otherwise seal outputs that ignore the change.
* A decision is about a value in one file for one recipient (see
  ``domain.detection.review``); "*" stores one row per recipient, and the
  "term" scope stores one per file in which the value was found.
* The access log records ids, recipients, decisions and entity types, never
  the text of a value: the log is read by people who may not see it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from exchange.domain import lifecycle
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.review import (
    MANUAL,
    FileReview,
    ManualBox,
    build_review,
    check_value,
    parse_box,
)
from exchange.domain.errors import InvalidInput, NotFound
from exchange.domain.filetypes import PDF
from exchange.models import Bundle, Case, CaseFile, FindingRow, ManualBoxRow, PolicyVersion, ReviewDecision
from exchange.services import audit, cases
from exchange.services.context import ServiceContext

#: Raise to re-process every file on the next submit after a deploy that changes what
#: engines produce (a fix in an engine, a new verifier): outputs made before are then stale.
ENGINE_REVISION = "2026-12-01.1"

DECISIONS = ("redact", "keep")
#: what a client may name: one recipient, or "*" for all of them
RECIPIENT_CHOICES = (*cases.RECIPIENTS, "*")
DECLARE_AS = {"customer": "customers", "trade_secret": "trade_secrets"}


def value_key(value: str) -> str:
    """The uniqueness key of a decision's value: spellings that fold alike are one value."""
    return hashlib.sha256(fold(value).encode()).hexdigest()


def processed_key(file_sha256: str, policy_hash: str, review_fingerprint: str) -> str:
    """What a file's outputs were made from; a file whose key is unchanged need not run again."""
    plain = json.dumps([ENGINE_REVISION, file_sha256, policy_hash, review_fingerprint])
    return hashlib.sha256(plain.encode()).hexdigest()


# -- what processing applies ---------------------------------------------------------


def _box_of(row: ManualBoxRow) -> ManualBox:
    return ManualBox(row.page, (row.left, row.top, row.right, row.bottom))


def file_reviews(ctx: ServiceContext, file_ids: Iterable[str]) -> dict[str, FileReview]:
    """The review of each file, from its stored decisions and boxes (two queries for any number)."""
    ids = sorted(set(file_ids))
    if not ids:
        return {}
    decisions: dict[str, list[tuple[str, str, str]]] = {i: [] for i in ids}
    for file_id, recipient, value, decision in ctx.session.execute(
        select(
            ReviewDecision.file_id, ReviewDecision.recipient, ReviewDecision.value, ReviewDecision.decision
        )
        .where(ReviewDecision.file_id.in_(ids))
        .order_by(ReviewDecision.id)
    ):
        decisions[file_id].append((recipient, value, decision))
    boxes: dict[str, list[tuple[list[str], ManualBox]]] = {i: [] for i in ids}
    for row in ctx.session.scalars(
        select(ManualBoxRow).where(ManualBoxRow.file_id.in_(ids)).order_by(ManualBoxRow.created_at)
    ):
        boxes[row.file_id].append((list(row.recipients or []), _box_of(row)))
    return {i: build_review(decisions[i], boxes[i]) for i in ids}


def file_review(ctx: ServiceContext, file_id: str) -> FileReview:
    """What the next run applies to one file."""
    return file_reviews(ctx, [file_id]).get(file_id, FileReview())


def expected_keys(ctx: ServiceContext, files: Sequence[CaseFile], policy: PolicyVersion) -> dict[str, str]:
    """The :func:`processed_key` each file would get if it ran now."""
    reviews = file_reviews(ctx, [f.id for f in files])
    return {
        f.id: processed_key(f.sha256, policy.content_hash, reviews.get(f.id, FileReview()).fingerprint())
        for f in files
    }


def files_to_process(ctx: ServiceContext, files: Sequence[CaseFile], policy: PolicyVersion) -> list[CaseFile]:
    """The files a run must (re)process: not processed, failed, or made from another content,
    policy, review or engine revision. The others keep their outputs and findings."""
    keys = expected_keys(ctx, files, policy)
    return [f for f in files if f.status != "processed" or f.processed_key != keys[f.id]]


# -- findings as the applicant sees them ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _FileState:
    #: (recipient, value key) -> "keep" | "redact"
    decided: dict[tuple[str, str], str]
    #: the file's outputs were made from its current review and the case's current policy
    current: bool


def finding_views(ctx: ServiceContext, case: Case, rows: Sequence[FindingRow]) -> list[dict[str, Any]]:
    """Findings with the review applied: ``decisions`` as the next run will apply them,
    ``reviewed`` the applicant's own decisions, ``pending`` true while the file's outputs do
    not reflect them yet (they take effect on the next submit)."""
    file_ids = sorted({r.file_id for r in rows})
    states: dict[str, _FileState] = {}
    if file_ids:
        policy = cases.current_policy(ctx, case)
        files = list(ctx.session.scalars(select(CaseFile).where(CaseFile.id.in_(file_ids))))
        keys = expected_keys(ctx, files, policy) if policy is not None else {}
        decided: dict[str, dict[tuple[str, str], str]] = {i: {} for i in file_ids}
        for file_id, recipient, key, decision in ctx.session.execute(
            select(
                ReviewDecision.file_id,
                ReviewDecision.recipient,
                ReviewDecision.value_key,
                ReviewDecision.decision,
            ).where(ReviewDecision.file_id.in_(file_ids))
        ):
            decided[file_id][(recipient, key)] = decision
        for f in files:
            current = (
                f.status == "processed" and f.processed_key is not None and keys.get(f.id) == f.processed_key
            )
            states[f.id] = _FileState(decided[f.id], current)
    out: list[dict[str, Any]] = []
    for row in rows:
        state = states.get(row.file_id, _FileState({}, False))
        key = value_key(row.text)
        reviewed = {r: d for r in cases.RECIPIENTS if (d := state.decided.get((r, key))) is not None}
        out.append(cases.finding_view(row, reviewed=reviewed, pending=not state.current))
    return out


# -- use cases -------------------------------------------------------------------------


def _reviewable(ctx: ServiceContext, case_id: str) -> Case:
    """The case, if the actor may change its review now (404, 403 or 409 otherwise)."""
    cases._require_applicant(ctx)
    case = cases.get_case(ctx, case_id)
    has_bundles = ctx.session.scalar(select(Bundle.id).where(Bundle.case_id == case.id).limit(1)) is not None
    lifecycle.require(
        lifecycle.Action.REVIEW,
        case.status,
        "applicant",
        bureau_status=case.bureau_status,
        archived=case.archived_at is not None,
        has_bundles=has_bundles,
    )
    return case


def authorise_change(ctx: ServiceContext, case_id: str) -> None:
    """Refuse (404, 403, 409) unless the actor may change the case's review now.

    Adapters call it before they judge a request's body, so that a caller who
    may not touch the case learns nothing from the answer to a malformed one.
    """
    _reviewable(ctx, case_id)


def _readable(ctx: ServiceContext, case_id: str) -> Case:
    cases._require_applicant(ctx)
    return cases.get_case(ctx, case_id)


def _file(ctx: ServiceContext, case: Case, file_id: Any) -> CaseFile:
    row = ctx.session.get(CaseFile, file_id) if isinstance(file_id, str) and len(file_id) <= 36 else None
    if row is None or row.case_id != case.id:
        raise NotFound("no such file in this case")
    return row


def _finding(ctx: ServiceContext, case: Case, finding_id: Any) -> FindingRow:
    try:
        number = int(finding_id)
    except (TypeError, ValueError):
        raise NotFound("no such finding in this case") from None
    row = ctx.session.get(FindingRow, number) if 0 < number < 2**63 else None
    if row is None:
        raise NotFound("no such finding in this case")
    owner = ctx.session.scalar(select(CaseFile.case_id).where(CaseFile.id == row.file_id))
    if owner != case.id:
        raise NotFound("no such finding in this case")
    return row


def _recipients(value: Any) -> list[str]:
    if value == "*":
        return list(cases.RECIPIENTS)
    if value in cases.RECIPIENTS:
        return [str(value)]
    raise InvalidInput("recipient must be one of: " + ", ".join(RECIPIENT_CHOICES))


def _recipient_list(value: Any) -> list[str]:
    if value == "*":
        return list(cases.RECIPIENTS)
    if not isinstance(value, list) or not value:
        raise InvalidInput("recipients must be a non-empty list of: " + ", ".join(cases.RECIPIENTS))
    unknown = [v for v in value if v not in cases.RECIPIENTS]
    if unknown:
        raise InvalidInput("recipients must be a non-empty list of: " + ", ".join(cases.RECIPIENTS))
    return sorted(set(value))


def _decision(value: Any) -> str:
    if value not in DECISIONS:
        raise InvalidInput("decision must be 'redact' or 'keep'")
    return str(value)


def _back_to_draft(case: Case) -> None:
    # The outputs no longer match the review: they must be made again before anything is sealed.
    if case.status != "draft":
        case.status, case.progress, case.error = "draft", 0, None


def _store_decision(
    ctx: ServiceContext,
    case: Case,
    file_id: str,
    *,
    recipient: str,
    value: str,
    decision: str,
    entity_type: str,
) -> tuple[ReviewDecision, bool]:
    """Insert or update one decision; True when it changed anything."""
    actor = cases._actor(ctx)
    key = value_key(value)

    def existing() -> ReviewDecision | None:
        return ctx.session.scalar(
            select(ReviewDecision).where(
                ReviewDecision.file_id == file_id,
                ReviewDecision.recipient == recipient,
                ReviewDecision.value_key == key,
            )
        )

    row = existing()
    if row is None:
        row = ReviewDecision(
            case_id=case.id,
            file_id=file_id,
            recipient=recipient,
            value=value,
            value_key=key,
            decision=decision,
            entity_type=entity_type,
            created_by_id=actor.user_id,
        )
        try:
            with ctx.session.begin_nested():
                ctx.session.add(row)
        except IntegrityError:
            # A concurrent request stored the same value first: update its row instead.
            row = existing()
            if row is None:
                raise
        else:
            return row, True
    if row.decision == decision and row.entity_type == entity_type:
        return row, False
    row.decision, row.entity_type, row.value = decision, entity_type, value
    return row, True


def decide_finding(
    ctx: ServiceContext, case_id: str, finding_id: Any, *, recipient: Any, decision: Any, scope: Any = None
) -> dict[str, Any]:
    """Keep or redact a finding's value for a recipient (or all), in its file or ("term") every file."""
    case = _reviewable(ctx, case_id)
    finding = _finding(ctx, case, finding_id)
    who, action = _recipients(recipient), _decision(decision)
    if scope not in (None, "", "file", "term"):
        raise InvalidInput("scope must be 'file' or 'term'")
    file_ids = [finding.file_id]
    if scope == "term":
        wanted = fold(finding.text)
        found_in = ctx.session.execute(
            select(FindingRow.file_id, FindingRow.text)
            .where(FindingRow.file_id.in_(select(CaseFile.id).where(CaseFile.case_id == case.id)))
            .distinct()
        )
        file_ids = sorted({fid for fid, text in found_in if fold(text) == wanted} | {finding.file_id})
    changed = False
    for file_id in file_ids:
        for name in who:
            _, did = _store_decision(
                ctx,
                case,
                file_id,
                recipient=name,
                value=finding.text,
                decision=action,
                entity_type=finding.entity_type,
            )
            changed = changed or did
    if changed:
        _back_to_draft(case)
    audit.record(
        ctx,
        "review.decided",
        "ok" if changed else "unchanged",
        "finding",
        str(finding.id),
        chain=case.id,
        detail={
            "recipients": who,
            "decision": action,
            "entity_type": finding.entity_type,
            "files": file_ids,
            "scope": "term" if scope == "term" else "file",
        },
    )
    ctx.session.flush()
    return finding_views(ctx, case, [finding])[0]


def select_text(
    ctx: ServiceContext, case_id: str, file_id: Any, *, text: Any, recipients: Any
) -> list[ReviewDecision]:
    """Redact a selected text wherever it occurs in one file, for the given recipients."""
    case = _reviewable(ctx, case_id)
    row = _file(ctx, case, file_id)
    value = check_value(text)
    who = _recipient_list(recipients)
    stored: list[ReviewDecision] = []
    changed = False
    for name in who:
        decision, did = _store_decision(
            ctx, case, row.id, recipient=name, value=value, decision="redact", entity_type=MANUAL
        )
        stored.append(decision)
        changed = changed or did
    if changed:
        _back_to_draft(case)
    ctx.session.flush()
    audit.record(
        ctx,
        "review.selected",
        "ok" if changed else "unchanged",
        "file",
        row.id,
        chain=case.id,
        detail={"decisions": [d.id for d in stored], "recipients": who, "entity_type": MANUAL},
    )
    return stored


def decision_view(row: ReviewDecision) -> dict[str, Any]:
    return {
        "id": row.id,
        "file_id": row.file_id,
        "recipient": row.recipient,
        "value": row.value,
        "decision": row.decision,
        "entity_type": row.entity_type,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def list_decisions(ctx: ServiceContext, case_id: str, file_id: Any = None) -> list[dict[str, Any]]:
    """The case's review decisions (one file's, or all), by file in upload order, then by creation."""
    case = _readable(ctx, case_id)
    query = (
        select(ReviewDecision)
        .join(CaseFile, CaseFile.id == ReviewDecision.file_id)
        .where(ReviewDecision.case_id == case.id, CaseFile.case_id == case.id)
        .order_by(CaseFile.created_at, ReviewDecision.id)
    )
    if file_id:
        query = query.where(ReviewDecision.file_id == _file(ctx, case, file_id).id)
    return [decision_view(r) for r in ctx.session.scalars(query)]


def undo_decision(ctx: ServiceContext, case_id: str, decision_id: Any) -> None:
    case = _reviewable(ctx, case_id)
    try:
        number = int(decision_id)
    except (TypeError, ValueError):
        raise NotFound("no such decision in this case") from None
    row = ctx.session.get(ReviewDecision, number) if 0 < number < 2**63 else None
    if row is None or row.case_id != case.id:
        raise NotFound("no such decision in this case")
    detail = {"file_id": row.file_id, "recipient": row.recipient, "decision": row.decision}
    detail["entity_type"] = row.entity_type
    ctx.session.delete(row)
    _back_to_draft(case)
    audit.record(ctx, "review.undone", "ok", "decision", str(number), chain=case.id, detail=detail)


# -- manual boxes ----------------------------------------------------------------------


def _boxable(row: CaseFile) -> None:
    if row.media_type != PDF and not row.media_type.startswith("image/"):
        raise InvalidInput("manual boxes apply to PDF pages and images; select the text to redact instead")


def add_box(
    ctx: ServiceContext, case_id: str, file_id: Any, *, page: Any, box: Any, recipients: Any
) -> ManualBoxRow:
    case = _reviewable(ctx, case_id)
    row = _file(ctx, case, file_id)
    _boxable(row)
    parsed = parse_box(page, box)
    if row.page_count is not None and parsed.page > row.page_count:
        raise InvalidInput(f"page {parsed.page} is beyond the file's {row.page_count} page(s)")
    who = _recipient_list(recipients)
    left, top, right, bottom = parsed.box
    actor = cases._actor(ctx)
    stored = ManualBoxRow(
        case_id=case.id,
        file_id=row.id,
        page=parsed.page,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        recipients=who,
        created_by_id=actor.user_id,
    )
    ctx.session.add(stored)
    ctx.session.flush()
    _back_to_draft(case)
    audit.record(
        ctx,
        "review.box_added",
        "ok",
        "box",
        stored.id,
        chain=case.id,
        detail={"file_id": row.id, "page": parsed.page, "box": list(parsed.box), "recipients": who},
    )
    return stored


def box_view(row: ManualBoxRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "file_id": row.file_id,
        "page": row.page,
        "box": [row.left, row.top, row.right, row.bottom],
        "recipients": list(row.recipients or []),
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def list_boxes(ctx: ServiceContext, case_id: str, file_id: Any) -> list[dict[str, Any]]:
    case = _readable(ctx, case_id)
    row = _file(ctx, case, file_id)
    rows = ctx.session.scalars(
        select(ManualBoxRow)
        .where(ManualBoxRow.file_id == row.id)
        .order_by(ManualBoxRow.page, ManualBoxRow.created_at)
    )
    return [box_view(b) for b in rows]


def delete_box(ctx: ServiceContext, case_id: str, file_id: Any, box_id: Any) -> None:
    case = _reviewable(ctx, case_id)
    row = _file(ctx, case, file_id)
    found = ctx.session.get(ManualBoxRow, box_id) if isinstance(box_id, str) and len(box_id) <= 36 else None
    if found is None or found.file_id != row.id or found.case_id != case.id:
        raise NotFound("no such box on this file")
    ctx.session.execute(delete(ManualBoxRow).where(ManualBoxRow.id == found.id))
    _back_to_draft(case)
    audit.record(ctx, "review.box_deleted", "ok", "box", found.id, chain=case.id, detail={"file_id": row.id})


# -- suggestion -> declared term -------------------------------------------------------


def _dump_like(original: str, document: dict[str, Any]) -> str:
    """The edited policy in the original's format: JSON stays JSON, YAML stays YAML."""
    if original.lstrip().startswith("{"):
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def declare_finding(ctx: ServiceContext, case_id: str, finding_id: Any, declare_as: Any) -> PolicyVersion:
    """Add a finding's text to the policy's declared customers or trade secrets, as a new version.

    The document is loaded, changed in one list and dumped again, so every
    other setting is kept (YAML comments are not: a data round trip drops them).
    """
    case = _reviewable(ctx, case_id)
    finding = _finding(ctx, case, finding_id)
    if declare_as not in DECLARE_AS:
        raise InvalidInput("as must be 'customer' or 'trade_secret'")
    field = DECLARE_AS[str(declare_as)]
    latest = cases.current_policy(ctx, case)
    if latest is None:
        raise InvalidInput("save a policy first; a declared term is added to its terms")
    try:
        document = yaml.safe_load(latest.source_text)
    except yaml.YAMLError:
        raise InvalidInput("the current policy cannot be read; fix it in the policy editor") from None
    if not isinstance(document, dict):
        raise InvalidInput("the current policy is not a mapping; fix it in the policy editor")
    terms = document.get("terms")
    terms = dict(terms) if isinstance(terms, dict) else {}
    listed = terms.get(field)
    listed = list(listed) if isinstance(listed, list) else []
    if any(isinstance(v, str) and fold(v) == fold(finding.text) for v in listed):
        version = latest
    else:
        listed.append(finding.text)
        terms[field] = listed
        document["terms"] = terms
        version = cases.set_policy(ctx, case.id, _dump_like(latest.source_text, document))
    audit.record(
        ctx,
        "review.declared",
        "ok" if version is not latest else "unchanged",
        "finding",
        str(finding.id),
        chain=case.id,
        detail={"as": str(declare_as), "entity_type": finding.entity_type, "policy_version": version.version},
    )
    return version
