"""The exchange after the first bundle: the bureau's requests and status, supplements, versions, inboxes.

Who sees what (everyone else gets NotFound, so case ids cannot be probed):

* The case's applicant sees everything here: the bureau's status, every
  information request with its message, and all bundle versions.
* The bureau of the case sees the case once a bundle was sealed for it:
  its own bundles, the status it set and its own requests with their
  messages. Only the bureau asks for information and sets the status, and
  only while the lifecycle allows it (:mod:`exchange.domain.lifecycle`).
* The supplier sees the case once a bundle was sealed for it: its own
  bundles, the bureau's status and *that* information was requested (how
  many requests are open and since when), never a request's message. The
  supplier files the application, so it needs to know where it stands; the
  messages are the bureau's questions to the applicant and may concern the
  applicant's business, so they stay between those two.
* A recipient never sees ``Case.title`` or an upload's name: case titles
  and file names come from what sealing stored for that recipient
  (``Bundle.title``, the member list recorded with the bundle).

Invariants:

* A request's message is 1 to 4000 characters, stored as text and shown
  only to the applicant and the bureau; it is never logged: the access log
  records the request's id, never its text.
* A supplement reopens a sealed case as a draft of the next version
  (``Case.version + 1``) in one conditional UPDATE, so a double click starts
  one supplement. Files uploaded then carry that version. Sealing the next
  version (:mod:`exchange.services.sharing`) links each recipient's new
  bundle to its previous one, marks open requests answered and puts the
  bureau's status back to under review.
* Download state comes from the access log (``bundle.download`` events with
  outcome ``ok``), the same record the applicant reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.domain.lifecycle import Action, BureauStatus, parse_bureau_status, require
from exchange.models import AuditEvent, Bundle, Case, InformationRequest
from exchange.services import audit
from exchange.services.cases import _actor, get_case
from exchange.services.context import ServiceContext

MESSAGE_MAX = 4000
#: what a case sealed before the bureau said anything shows as its status
DEFAULT_STATUS = BureauStatus.UNDER_REVIEW.value


@dataclass(frozen=True)
class Party:
    """The actor's relation to one case: ``applicant``, ``supplier`` or ``bureau``."""

    case: Case
    role: str


def _case_by_id(ctx: ServiceContext, case_id: Any) -> Case | None:
    if not isinstance(case_id, str) or len(case_id) > 36:
        return None
    return ctx.session.get(Case, case_id)


def party(ctx: ServiceContext, case_id: Any) -> Party:
    """The actor's relation to the case, or NotFound when it may not see it at all."""
    actor = _actor(ctx)
    case = _case_by_id(ctx, case_id)
    if case is None:
        raise NotFound("no such case")
    if actor.role == "applicant" and case.applicant_org_id == actor.org_id:
        return Party(case, "applicant")
    if actor.role in ("supplier", "bureau"):
        recipient_org = case.bureau_org_id if actor.role == "bureau" else case.supplier_org_id
        if recipient_org == actor.org_id and _has_bundles(ctx, case.id, actor.org_id):
            return Party(case, actor.role)
    raise NotFound("no such case")


def _has_bundles(ctx: ServiceContext, case_id: str, org_id: int | None = None) -> bool:
    query = select(Bundle.id).where(Bundle.case_id == case_id)
    if org_id is not None:
        query = query.where(Bundle.org_id == org_id)
    return ctx.session.scalar(query.limit(1)) is not None


def _bureau_case(ctx: ServiceContext, case_id: Any, action: Action) -> Case:
    seen = party(ctx, case_id)
    if seen.role != "bureau":
        raise Forbidden("only the case's bureau can do this")
    case = seen.case
    require(
        action,
        case.status,
        "bureau",
        bureau_status=case.bureau_status,
        archived=case.archived_at is not None,
        has_bundles=True,
    )
    return case


def _message(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("message is required (1 to 4000 characters)")
    text = value.strip()
    if len(text) > MESSAGE_MAX:
        raise InvalidInput(f"message is too long ({len(text)} characters; at most {MESSAGE_MAX})")
    return text


def request_information(ctx: ServiceContext, case_id: Any, message: Any) -> InformationRequest:
    """The bureau asks the applicant for more information about the sealed version."""
    case = _bureau_case(ctx, case_id, Action.REQUEST_INFORMATION)
    text = _message(message)
    actor = _actor(ctx)
    row = InformationRequest(case_id=case.id, version=case.version, message=text, created_by_id=actor.user_id)
    ctx.session.add(row)
    previous = case.bureau_status
    case.bureau_status = BureauStatus.INFORMATION_REQUESTED.value
    ctx.session.flush()
    audit.record(
        ctx,
        "case.information_requested",
        "ok",
        "information_request",
        row.id,
        chain=case.id,
        detail={"request_id": row.id, "version": case.version, "previous_status": previous},
    )
    return row


def set_status(ctx: ServiceContext, case_id: Any, status: Any) -> Case:
    """The bureau's statement about the application; it does not move the case's own state."""
    case = _bureau_case(ctx, case_id, Action.SET_STATUS)
    chosen = parse_bureau_status(status)
    previous = case.bureau_status
    case.bureau_status = chosen.value
    audit.record(
        ctx,
        "case.bureau_status",
        "ok",
        "case",
        case.id,
        chain=case.id,
        detail={"status": chosen.value, "previous": previous, "version": case.version},
    )
    return case


def start_supplement(ctx: ServiceContext, case_id: Any) -> Case:
    """Reopen a sealed case as a draft of its next version, to answer the bureau."""
    seen = party(ctx, case_id)
    if seen.role != "applicant":
        raise Forbidden("only applicants can do this")
    case = seen.case
    require(
        Action.SUPPLEMENT,
        case.status,
        "applicant",
        bureau_status=case.bureau_status,
        archived=case.archived_at is not None,
        has_bundles=_has_bundles(ctx, case.id),
    )
    version = case.version
    changed = ctx.session.execute(
        update(Case)
        .where(
            Case.id == case.id,
            Case.version == version,
            Case.status == "sealed",
            Case.bureau_status == BureauStatus.INFORMATION_REQUESTED.value,
        )
        .values(status="draft", version=version + 1, progress=0, error=None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the case was changed meanwhile; reload it")
    ctx.session.refresh(case)
    audit.record(
        ctx,
        "case.supplement_started",
        "ok",
        "case",
        case.id,
        chain=case.id,
        detail={"version": case.version, "previous_version": version},
    )
    return case


def request_view(row: InformationRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "message": row.message,
        "created_at": row.created_at.isoformat(),
        "open": row.answered_version is None,
        "answered_version": row.answered_version,
        "answered_at": row.answered_at.isoformat() if row.answered_at else None,
    }


def _requests(ctx: ServiceContext, case_id: str) -> list[InformationRequest]:
    return list(
        ctx.session.scalars(
            select(InformationRequest)
            .where(InformationRequest.case_id == case_id)
            .order_by(InformationRequest.created_at, InformationRequest.id)
        )
    )


def list_requests(ctx: ServiceContext, case_id: Any) -> list[dict[str, Any]]:
    """Every request of the case with its message: the applicant and the case's bureau only."""
    seen = party(ctx, case_id)
    if seen.role == "supplier":
        raise Forbidden("information requests are between the bureau and the applicant")
    return [request_view(r) for r in _requests(ctx, seen.case.id)]


def _status_of(case: Case) -> str:
    return case.bureau_status or DEFAULT_STATUS


def _request_summary(rows: list[InformationRequest]) -> dict[str, Any]:
    """What the supplier may know about requests: that there are open ones, and since when."""
    open_rows = [r for r in rows if r.answered_version is None]
    return {
        "open": len(open_rows),
        "since": open_rows[0].created_at.isoformat() if open_rows else None,
    }


def _members(ctx: ServiceContext, case_id: str, bundle_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each bundle's member list as sealing recorded it (the recipient's redacted names)."""
    if not bundle_ids:
        return {}
    events = ctx.session.scalars(
        select(AuditEvent).where(
            AuditEvent.chain == case_id,
            AuditEvent.action == "bundle.shared",
            AuditEvent.outcome == "ok",
            AuditEvent.object_id.in_(bundle_ids),
        )
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        members = (event.detail or {}).get("members")
        if isinstance(members, list) and event.object_id:
            found[event.object_id] = [m for m in members if isinstance(m, dict)]
    return found


def _downloads(ctx: ServiceContext, case_id: str, bundle_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per bundle: how often it was downloaded and the last time, from the access log."""
    if not bundle_ids:
        return {}
    rows = ctx.session.execute(
        select(AuditEvent.object_id, AuditEvent.at)
        .where(
            AuditEvent.chain == case_id,
            AuditEvent.action == "bundle.download",
            AuditEvent.outcome == "ok",
            AuditEvent.object_id.in_(bundle_ids),
        )
        .order_by(AuditEvent.seq)
    )
    found: dict[str, dict[str, Any]] = {}
    for object_id, at in rows:
        entry = found.setdefault(str(object_id), {"count": 0, "first_at": at.isoformat(), "last_at": None})
        entry["count"] += 1
        entry["last_at"] = at.isoformat()
    return found


def bundle_version_view(
    bundle: Bundle, members: list[dict[str, Any]] | None, downloads: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "version": bundle.version,
        "bundle_id": bundle.id,
        "previous_id": bundle.previous_id,
        "recipient": bundle.recipient,
        "organisation": bundle.org.name,
        "size": bundle.size,
        "sha256": bundle.sha256,
        "manifest_sha256": bundle.manifest_sha256,
        "file_count": bundle.file_count,
        "files": members,
        "created_at": bundle.created_at.isoformat(),
        "filename": f"bundle-{bundle.id}.tar.age",
        "downloaded": downloads is not None,
        "download_count": downloads["count"] if downloads else 0,
        "downloaded_at": downloads["last_at"] if downloads else None,
    }


def _bundles(ctx: ServiceContext, case_id: str, org_id: int | None) -> list[Bundle]:
    query = select(Bundle).where(Bundle.case_id == case_id)
    if org_id is not None:
        query = query.where(Bundle.org_id == org_id)
    return list(ctx.session.scalars(query.order_by(Bundle.version, Bundle.recipient)))


def _version_views(ctx: ServiceContext, case_id: str, bundles: list[Bundle]) -> list[dict[str, Any]]:
    ids = [b.id for b in bundles]
    members = _members(ctx, case_id, ids)
    downloads = _downloads(ctx, case_id, ids)
    return [bundle_version_view(b, members.get(b.id), downloads.get(b.id)) for b in bundles]


def versions(ctx: ServiceContext, case_id: Any) -> dict[str, Any]:
    """The case's bundle versions in order: all of them for the applicant, its own for a recipient."""
    seen = party(ctx, case_id)
    case = seen.case
    org_id = None if seen.role == "applicant" else _actor(ctx).org_id
    view: dict[str, Any] = {
        "case_id": case.id,
        "bureau_status": _status_of(case) if _has_bundles(ctx, case.id) else None,
        "versions": _version_views(ctx, case.id, _bundles(ctx, case.id, org_id)),
    }
    if seen.role == "applicant":
        # The case's own state and version are the applicant's; a recipient knows only what it received.
        view["version"] = case.version
        view["status"] = case.status
    return view


def inbox(ctx: ServiceContext) -> list[dict[str, Any]]:
    """Per case the actor's organisation received bundles for: sender, title, versions, status.

    Newest activity first. The title is the one sealed into the recipient's
    latest bundle; the bureau gets its requests with their messages, the
    supplier only how many are open.
    """
    actor = _actor(ctx)
    if actor.role not in ("supplier", "bureau"):
        raise Forbidden("the inbox is for suppliers and bureaus")
    bundles = list(
        ctx.session.scalars(
            select(Bundle).where(Bundle.org_id == actor.org_id).order_by(Bundle.case_id, Bundle.version)
        )
    )
    by_case: dict[str, list[Bundle]] = {}
    for bundle in bundles:
        by_case.setdefault(bundle.case_id, []).append(bundle)
    cards: list[dict[str, Any]] = []
    for case_id, own in by_case.items():
        case = ctx.session.get(Case, case_id)
        if case is None:
            continue
        latest = own[-1]
        rows = _requests(ctx, case.id)
        card: dict[str, Any] = {
            "case_id": case.id,
            "sender": case.applicant_org.name,
            # Only what sealing stored for this recipient, never Case.title.
            "case_title": latest.title if latest.title is not None else f"Case {case.id[:8]}",
            "bureau_status": _status_of(case),
            "latest_version": latest.version,
            "updated_at": latest.created_at.isoformat(),
            "versions": _version_views(ctx, case.id, own),
            "information_requests": _request_summary(rows),
        }
        if actor.role == "bureau":
            card["requests"] = [request_view(r) for r in rows]
            card["can_request"] = _allowed(case, Action.REQUEST_INFORMATION)
            card["can_set_status"] = _allowed(case, Action.SET_STATUS)
        cards.append(card)
    cards.sort(key=lambda c: c["updated_at"], reverse=True)
    return cards


def _allowed(case: Case, action: Action) -> bool:
    try:
        require(
            action,
            case.status,
            "bureau",
            bureau_status=case.bureau_status,
            archived=case.archived_at is not None,
            has_bundles=True,
        )
    except Conflict:
        return False
    return True


def case_exchange(ctx: ServiceContext, case_id: str) -> dict[str, Any]:
    """For the applicant's case page: the bureau's status, requests and whether a supplement may start."""
    case = get_case(ctx, case_id)
    sealed_before = _has_bundles(ctx, case.id)
    try:
        require(
            Action.SUPPLEMENT,
            case.status,
            "applicant",
            bureau_status=case.bureau_status,
            archived=case.archived_at is not None,
            has_bundles=sealed_before,
        )
        can_supplement = True
    except Conflict:
        can_supplement = False
    rows = _requests(ctx, case.id)
    return {
        "case_id": case.id,
        "shared": sealed_before,
        "version": case.version,
        "bureau_status": _status_of(case) if sealed_before else None,
        "requests": [request_view(r) for r in rows],
        "open_requests": [request_view(r) for r in rows if r.answered_version is None],
        "can_supplement": can_supplement,
        "supplement_in_progress": case.version > 1 and case.status != "sealed",
    }
