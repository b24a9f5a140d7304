"""Cases: creation, policy, files, submission and approval.

Access rule: a case is visible only to users of its applicant organisation
(anyone else gets NotFound, so ids cannot be probed); only applicants change
it (other roles get Forbidden). State changes are guarded by the case's
status, taken by one conditional UPDATE each (so a double click starts one
run), and the jobs they imply are written to the outbox in the same commit
(see :mod:`exchange.services.outbox`): state and queue never disagree.
Reading a case never loads its findings; they are paged by
:func:`list_findings`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import yaml
from sqlalchemy import select, update

from exchange.domain.detection import Labeller, load_policy
from exchange.domain.detection import import_customers as parse_customer_list
from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.domain.filetypes import display_name
from exchange.domain.lifecycle import Action, allowed_actions, require
from exchange.models import AuditEvent, Bundle, Case, CaseFile, FindingRow, Organisation, PolicyVersion
from exchange.services import audit, outbox
from exchange.services.context import Actor, ServiceContext
from exchange.services.runs import finalise_if_done

PROCESS_TASK = "exchange.process_case"
PROCESS_FILE_TASK = "exchange.process_file"
SEAL_TASK = "exchange.seal_case"
EDITABLE = ("draft", "review", "failed")
RECIPIENTS = ("bureau", "supplier")


def _actor(ctx: ServiceContext) -> Actor:
    if ctx.actor is None:
        raise Forbidden("sign in first")
    return ctx.actor


def _require_applicant(ctx: ServiceContext) -> Actor:
    actor = _actor(ctx)
    if actor.role != "applicant":
        raise Forbidden("only applicants can do this")
    return actor


def get_case(ctx: ServiceContext, case_id: str) -> Case:
    """The case, if the actor's organisation is its applicant; else NotFound."""
    actor = _actor(ctx)
    case = ctx.session.get(Case, case_id) if isinstance(case_id, str) and len(case_id) <= 36 else None
    if case is None or case.applicant_org_id != actor.org_id:
        raise NotFound("no such case")
    return case


def list_cases(ctx: ServiceContext) -> list[Case]:
    actor = _actor(ctx)
    return list(
        ctx.session.scalars(
            select(Case).where(Case.applicant_org_id == actor.org_id).order_by(Case.created_at.desc())
        )
    )


def _org(ctx: ServiceContext, name: Any, kind: str, field: str) -> Organisation:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{field} is required")
    org = ctx.session.scalar(select(Organisation).where(Organisation.name == name.strip()))
    if org is None or org.kind != kind:
        raise InvalidInput(f"{field}: no {kind} organisation named {name.strip()!r}")
    return org


def create_case(ctx: ServiceContext, title: Any, supplier_org: Any, bureau_org: Any) -> Case:
    actor = _require_applicant(ctx)
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        raise InvalidInput("title is required (1 to 300 characters)")
    supplier = _org(ctx, supplier_org, "supplier", "supplier_org")
    bureau = _org(ctx, bureau_org, "bureau", "bureau_org")
    case = Case(
        title=title.strip(),
        applicant_org_id=actor.org_id,
        supplier_org_id=supplier.id,
        bureau_org_id=bureau.id,
        created_by_id=actor.user_id,
        status="draft",
    )
    ctx.session.add(case)
    ctx.session.flush()
    audit.record(ctx, "case.created", "ok", "case", case.id, chain=case.id, detail={"title": case.title})
    return case


def _require_editable(case: Case) -> None:
    if case.status not in EDITABLE:
        raise Conflict(f"the case is {case.status}; it can no longer be changed")


def current_policy(ctx: ServiceContext, case: Case) -> PolicyVersion | None:
    return ctx.session.scalar(
        select(PolicyVersion).where(PolicyVersion.case_id == case.id).order_by(PolicyVersion.version.desc())
    )


def set_policy(ctx: ServiceContext, case_id: str, text: str) -> PolicyVersion:
    actor = _require_applicant(ctx)
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.EDIT_POLICY)
    policy = load_policy(text)
    latest = current_policy(ctx, case)
    if latest is not None and latest.content_hash == policy.content_hash:
        return latest
    version = PolicyVersion(
        case_id=case.id,
        version=(latest.version + 1) if latest else 1,
        content_hash=policy.content_hash,
        source_text=text,
        created_by_id=actor.user_id,
    )
    ctx.session.add(version)
    if case.status != "draft":
        # A new policy invalidates earlier results: the case must be processed again.
        case.status, case.progress, case.error = "draft", 0, None
    audit.record(
        ctx,
        "policy.set",
        "ok",
        "policy",
        str(version.version),
        chain=case.id,
        detail={"version": version.version, "sha256": policy.content_hash},
    )
    return version


def import_customers(
    ctx: ServiceContext, case_id: str, data: bytes, filename: str | None, column: str | None
) -> tuple[PolicyVersion, int]:
    """Add the customers in a CSV/XLSX column to the case's policy, as a new version."""
    _require_applicant(ctx)
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.EDIT_POLICY)
    names = parse_customer_list(data, display_name(filename), column or None)
    latest = current_policy(ctx, case)
    if latest is None:
        raise InvalidInput("save a policy first; imported customers are added to its terms.customers")
    document = dict(load_policy(latest.source_text).document)
    terms = dict(document.get("terms") or {})
    existing = list(terms.get("customers") or [])
    added = [n for n in names if n not in existing]
    terms["customers"] = existing + added
    document["terms"] = terms
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return set_policy(ctx, case_id, text), len(added)


def delete_file(ctx: ServiceContext, case_id: str, file_id: str) -> None:
    _require_applicant(ctx)
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.DELETE_FILE)
    row = ctx.session.get(CaseFile, file_id)
    if row is None or row.case_id != case.id:
        raise NotFound("no such file in this case")
    for output in row.outputs:
        if output.blob_key:
            key = output.blob_key
            ctx.after_commit(lambda k=key: ctx.blobs.delete(k))  # type: ignore[misc]
        ctx.session.delete(output)
    from exchange.services import previews  # noqa: PLC0415  (previews reads cases' rows)

    previews.discard_pages(ctx, row.id)
    blob_key = row.blob_key
    ctx.session.delete(row)
    ctx.after_commit(lambda: ctx.blobs.delete(blob_key))
    case.status, case.progress, case.error = "draft", 0, None
    audit.record(ctx, "file.deleted", "ok", "file", file_id, chain=case.id, detail={"name": row.name})


def submit(ctx: ServiceContext, case_id: str) -> Case:
    """Start a run: every file that changed is queued as its own job, in the same commit.

    A file whose outputs were made from its current content, the current
    policy, its current review and this engine revision (its
    ``processed_key``) keeps its outputs and findings and counts as done at
    once; when no file changed, the case goes straight to review.

    Idempotent under concurrency: the status change is one conditional
    UPDATE on the run number the caller saw, so of two simultaneous submits
    one starts the run and the other gets Conflict (409).
    """
    # The review builds on this module, so it is imported where it is needed.
    from exchange.services import review  # noqa: PLC0415

    _require_applicant(ctx)
    case = get_case(ctx, case_id)
    _require_editable(case)
    files = list(case.files)
    if not files:
        raise InvalidInput("upload at least one file before submitting")
    policy = current_policy(ctx, case)
    if policy is None:
        raise InvalidInput("set a redaction policy before submitting")
    redo = [f.id for f in review.files_to_process(ctx, files, policy)]
    seen, run = case.run, case.run + 1
    # Files run in parallel; they must share one salt from the start, or their labels could not merge.
    label_state = case.label_state or Labeller().state()
    changed = ctx.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.run == seen, Case.status.in_(EDITABLE))
        .values(
            status="processing",
            progress=int(100 * (len(files) - len(redo)) / len(files)),
            error=None,
            run=run,
            label_state=label_state,
            lease_until=None,
            lease_owner=None,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the case was submitted or changed meanwhile; reload it")
    ctx.session.execute(
        update(CaseFile)
        .where(CaseFile.case_id == case.id, CaseFile.id.in_(redo))
        .values(
            status="queued",
            run=run,
            error=None,
            queued_at=ctx.clock.now(),
            lease_until=None,
            lease_owner=None,
            attempts=0,
        )
        .execution_options(synchronize_session=False)
    )
    ctx.session.refresh(case)
    detail = {"run": run, "files": len(files), "reprocessed": len(redo)}
    audit.record(ctx, "case.submitted", "ok", "case", case.id, chain=case.id, detail=detail)
    if redo:
        outbox.add(ctx, [(PROCESS_FILE_TASK, (case.id, file_id, run)) for file_id in redo])
    else:
        # Nothing changed: the conditional UPDATE above holds the case's row, so the join runs here.
        finalise_if_done(ctx, case)
    return case


def approve(ctx: ServiceContext, case_id: str) -> Case:
    """Start sealing. Idempotent under concurrency like :func:`submit`: one conditional UPDATE."""
    _require_applicant(ctx)
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.APPROVE)
    missing = [org.name for org in (case.bureau_org, case.supplier_org) if not org.age_recipient]
    if missing:
        raise Conflict(f"organisation(s) without a public key: {', '.join(missing)}")
    run = case.run
    changed = ctx.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.run == run, Case.status == "review", Case.archived_at.is_(None))
        .values(status="sealing", lease_until=None, lease_owner=None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the case was approved or changed meanwhile; reload it")
    ctx.session.refresh(case)
    audit.record(ctx, "case.approved", "ok", "case", case.id, chain=case.id, detail={"run": run})
    outbox.add(ctx, [(SEAL_TASK, (case.id, run))])
    return case


def case_view(ctx: ServiceContext, case: Case) -> dict[str, Any]:
    policy = current_policy(ctx, case)
    bundles = ctx.session.scalars(select(Bundle).where(Bundle.case_id == case.id)).all()
    view: dict[str, Any] = {
        "id": case.id,
        "title": case.title,
        "status": case.status,
        "progress": case.progress,
        "supplier_org": case.supplier_org.name,
        "bureau_org": case.bureau_org.name,
        "created_at": case.created_at.isoformat(),
        "policy": {"version": policy.version, "sha256": policy.content_hash} if policy else None,
        "files": [file_view(f) for f in case.files],
        "bundles": [
            {
                "id": b.id,
                "recipient": b.recipient,
                "organisation": b.org.name,
                "size": b.size,
                "file_count": b.file_count,
            }
            for b in bundles
        ],
    }
    if case.error:
        view["error"] = case.error
    return view


def file_view(row: CaseFile) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "size": row.size,
        "sha256": row.sha256,
        "media_type": row.media_type,
        "status": row.status,
        "outputs": {
            o.recipient: {"status": o.status, "size": o.size, "sha256": o.sha256, "report": o.report}
            for o in row.outputs
        },
    }
    if row.error:
        view["error"] = row.error
    # Counts only: the findings themselves are paged by list_findings, never loaded with the case.
    counts = dict(row.finding_counts or {})
    view["finding_counts"] = counts
    view["findings_total"] = sum(counts.values())
    return view


FINDINGS_PAGE = 200
FINDINGS_PAGE_MAX = 1000


def _cursor_id(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        value = int(raw.decode("ascii").removeprefix("f:"))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidInput("cursor: not one this server gave out") from None
    if value < 0:
        raise InvalidInput("cursor: not one this server gave out")
    return value


def _cursor_for(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"f:{last_id}".encode("ascii")).decode("ascii").rstrip("=")


def list_findings(
    ctx: ServiceContext, case_id: str, file_id: str | None, cursor: str | None, limit: Any
) -> dict[str, Any]:
    """One page of a case's findings (one file's, or all), in a stable order; the case's access rule."""
    case = get_case(ctx, case_id)
    try:
        size = FINDINGS_PAGE if limit in (None, "") else int(limit)
    except (TypeError, ValueError):
        raise InvalidInput("limit must be a whole number") from None
    if not 1 <= size <= FINDINGS_PAGE_MAX:
        raise InvalidInput(f"limit must be between 1 and {FINDINGS_PAGE_MAX}")
    after = _cursor_id(cursor)
    query = select(FindingRow).where(FindingRow.id > after).order_by(FindingRow.id).limit(size + 1)
    if file_id:
        owner = ctx.session.scalar(select(CaseFile.case_id).where(CaseFile.id == str(file_id)[:36]))
        if owner != case.id:
            raise NotFound("no such file in this case")
        query = query.where(FindingRow.file_id == file_id)
    else:
        query = query.where(FindingRow.file_id.in_(select(CaseFile.id).where(CaseFile.case_id == case.id)))
    rows = list(ctx.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    # The review builds on this module, so it is imported where it is needed.
    from exchange.services import review  # noqa: PLC0415

    return {
        "findings": review.finding_views(ctx, case, rows),
        "next_cursor": _cursor_for(rows[-1].id) if more else None,
    }


def finding_view(
    row: FindingRow, *, reviewed: dict[str, str] | None = None, pending: bool = False
) -> dict[str, Any]:
    """A finding as the applicant sees it.

    ``decisions`` are the last run's, overridden by the applicant's review
    (``reviewed``: recipient -> "keep"/"redact"); ``pending`` is true while
    the file's outputs do not reflect the review and policy yet, i.e. the
    shown decisions take effect on the next submit.
    """
    decisions = {**(row.decisions or {}), **(reviewed or {})}
    return {
        "id": row.id,
        "file_id": row.file_id,
        "page": row.page,
        "entity_type": row.entity_type,
        "text": row.text,
        "start": row.start,
        "end": row.end,
        "score": row.score,
        "source": row.source,
        "explanation": row.explanation,
        "suggestion": row.suggestion,
        "decisions": decisions,
        "reasons": row.reasons or {},
        "reviewed": dict(reviewed or {}),
        "pending": pending,
    }


# ---- the case's lifecycle as the applicant's pages and API see it (issue 10) ----
#
# Pages show exactly ``case_actions`` and the services above refuse through
# ``require_action``: both ask the lifecycle table with the same facts, so a
# button is never shown for an action the service would refuse.

ORGANISATION_KINDS = ("supplier", "bureau")


def _has_bundles(ctx: ServiceContext, case: Case) -> bool:
    return ctx.session.scalar(select(Bundle.id).where(Bundle.case_id == case.id).limit(1)) is not None


def case_actions(ctx: ServiceContext, case: Case) -> frozenset[Action]:
    """What the signed-in user may do to ``case`` now (the lifecycle's answer)."""
    actor = _actor(ctx)
    return allowed_actions(
        case.status,
        actor.role,
        bureau_status=case.bureau_status,
        archived=case.archived_at is not None,
        has_bundles=_has_bundles(ctx, case),
    )


def require_action(ctx: ServiceContext, case: Case, action: Action) -> None:
    """Conflict (409) with the lifecycle's one-line reason unless ``action`` is allowed now."""
    actor = _actor(ctx)
    require(
        action,
        case.status,
        actor.role,
        bureau_status=case.bureau_status,
        archived=case.archived_at is not None,
        has_bundles=_has_bundles(ctx, case),
    )


def case_state(ctx: ServiceContext, case: Case) -> dict[str, Any]:
    """The lifecycle facts a page or client needs next to :func:`case_view`.

    ``progress`` while sealing counts the recipients whose bundle of the
    current version exists; otherwise it is the run's share of finished files.
    """
    progress = case.progress
    if case.status == "sealing":
        sealed = ctx.session.scalars(
            select(Bundle.recipient).where(Bundle.case_id == case.id, Bundle.version == case.version)
        ).all()
        progress = int(100 * len(set(sealed)) / len(RECIPIENTS))
    return {
        "actions": sorted(a.value for a in case_actions(ctx, case)),
        "archived": case.archived_at is not None,
        "archived_at": case.archived_at.isoformat() if case.archived_at else None,
        "bureau_status": case.bureau_status,
        "version": case.version,
        "progress": progress,
    }


def list_cases_filtered(ctx: ServiceContext, *, include_archived: bool) -> list[Case]:
    """The organisation's cases, newest first; archived ones only when asked for."""
    return [c for c in list_cases(ctx) if include_archived or c.archived_at is None]


def archive(ctx: ServiceContext, case_id: str) -> Case:
    """Set a case aside: it leaves the default case list and accepts nothing but un-archiving."""
    _require_applicant(ctx)
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.ARCHIVE)
    case.archived_at = ctx.clock.now()
    audit.record(ctx, "case.archived", "ok", "case", case.id, chain=case.id)
    return case


def unarchive(ctx: ServiceContext, case_id: str) -> Case:
    _require_applicant(ctx)
    case = get_case(ctx, case_id)
    require_action(ctx, case, Action.UNARCHIVE)
    case.archived_at = None
    audit.record(ctx, "case.unarchived", "ok", "case", case.id, chain=case.id)
    return case


def list_organisations(ctx: ServiceContext, kind: Any) -> list[dict[str, Any]]:
    """Registered organisations an applicant can name in a case, by name.

    Applicants only: the list tells who else uses the portal, which suppliers
    and bureaus need not learn about one another.
    """
    _require_applicant(ctx)
    kinds: tuple[str, ...] = ORGANISATION_KINDS
    if kind not in (None, ""):
        if kind not in ORGANISATION_KINDS:
            raise InvalidInput(f"kind must be one of: {', '.join(ORGANISATION_KINDS)}")
        kinds = (str(kind),)
    rows = ctx.session.scalars(
        select(Organisation).where(Organisation.kind.in_(kinds)).order_by(Organisation.name)
    )
    return [
        {"id": org.id, "name": org.name, "kind": org.kind, "has_key": bool(org.age_recipient)} for org in rows
    ]


#: audit actions the case timeline shows; others (uploads, policy versions, reads) stay in the access log
TIMELINE_ACTIONS = (
    "case.created",
    "case.submitted",
    "case.processed",
    "case.approved",
    "case.sealed",
    "bundle.download",
    "case.information_requested",
    "case.bureau_status",
    "case.supplement_started",
    "case.archived",
    "case.unarchived",
)


def timeline(ctx: ServiceContext, case: Case) -> list[dict[str, Any]]:
    """The case's milestones from its hash-chained audit log, oldest first.

    Refused downloads stay in the access log: the timeline tells what
    happened to the case, not who tried. A sealing's version is the one its
    event names, else its position among the successful sealings.
    """
    rows = ctx.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain == case.id, AuditEvent.action.in_(TIMELINE_ACTIONS))
        .order_by(AuditEvent.seq)
    )
    events: list[dict[str, Any]] = []
    sealings = 0
    for row in rows:
        detail = dict(row.detail or {})
        if row.action == "bundle.download" and row.outcome != "ok":
            continue
        if row.action == "case.sealed" and row.outcome == "ok":
            sealings += 1
            detail.setdefault("version", sealings)
        events.append(
            {
                "at": row.at.isoformat(),
                "action": row.action,
                "outcome": row.outcome,
                "actor": row.actor_email,
                "organisation": row.org_name,
                "detail": detail,
            }
        )
    return events
