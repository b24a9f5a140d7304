"""Sharing: sealing one bundle per recipient, listing and downloading them.

Invariants:
- A bundle holds only outputs that passed verification; sealing refuses a
  case with any failed or missing output (fail closed).
- A bundle is encrypted to exactly one organisation's age key and listed
  only to that organisation; every download attempt, allowed or refused, is
  written to the case's access log.
- Sealing is idempotent per (case, version, recipient): a retried job skips
  bundles that already exist. One job at a time seals a case: it holds the case's
  lease (:mod:`exchange.services.runs`), renewed while it works; a second
  delivery is skipped; a job that lost its lease shares nothing more.
- No orphaned blobs: a bundle's key is committed to ``pending_blobs``
  before the blob is written and removed in the commit that adds the
  bundle; the reconciler deletes what a dead job left.
- Listing and downloading bundles never load a case's files or findings.
- A recipient never sees a name its policy redacts: the case title and file
  names in the manifest, the archive member names and every listing come
  from that recipient's redacted values (``Bundle.title``,
  ``RedactedFile.name``), never from ``Case.title`` or ``CaseFile.name``.
  Titles are redacted here, on the worker, because detection loads an NLP
  model; web requests only read the stored results.
- Versions: sealing seals ``Case.version``. Each bundle of version n > 1
  holds every file of the case (the full picture, not a diff) and links to
  the same recipient's bundle of the previous version (``previous_id``).
  Sealing a version answers the bureau's open information requests and puts
  its status back to under review (:mod:`exchange.services.bureau`).
- The member list (the recipient's redacted names, sizes and the version
  each file came with) is recorded in the ``bundle.shared`` event, so the
  recipient's inbox can list a bundle's files without opening it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from exchange.domain.bundles.manifest import ManifestEntry, build_manifest, manifest_bytes, safe_member_name
from exchange.domain.bundles.sealing import BundleMember, seal, write_archive
from exchange.domain.bundles.signing import load_signing_key, public_key_pem, sign
from exchange.domain.detection import Detector, Labeller, load_policy
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.errors import Conflict, NotFound
from exchange.domain.lifecycle import BureauStatus
from exchange.domain.redaction.text import find_leaks
from exchange.models import (
    Bundle,
    Case,
    CaseFile,
    InformationRequest,
    Organisation,
    PendingBlob,
    RedactedFile,
    new_id,
)
from exchange.services import audit
from exchange.services.cases import RECIPIENTS, current_policy
from exchange.services.context import ServiceContext
from exchange.services.runs import Heartbeat, lease_end, lock_case, new_token
from exchange.services.workspace import private_workspace

_EXTENSION = re.compile(r"[A-Za-z0-9]{1,8}")


def _recipient_org(case: Case, recipient: str) -> Organisation:
    return case.bureau_org if recipient == "bureau" else case.supplier_org


def _claim_sealing(ctx: ServiceContext, case_id: str, run: int, token: str) -> bool:
    now = ctx.clock.now()
    claimed = ctx.session.execute(
        update(Case)
        .where(
            Case.id == case_id,
            Case.run == run,
            Case.status == "sealing",
            or_(Case.lease_until.is_(None), Case.lease_until < now),
        )
        .values(lease_owner=token, lease_until=lease_end(now, ctx.settings.job_lease_seconds))
        .execution_options(synchronize_session=False)
    )
    ctx.session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _locked_if_ours(ctx: ServiceContext, case_id: str, token: str) -> Case | None:
    ctx.session.rollback()
    case = lock_case(ctx.session, case_id)
    if case is None or case.lease_owner != token or case.status != "sealing":
        ctx.session.rollback()
        return None
    return case


def seal_case(ctx: ServiceContext, case_id: str, run: int) -> str:
    token = new_token()
    if not _claim_sealing(ctx, case_id, run, token):
        return "skipped"
    engine = ctx.session.get_bind()
    with Heartbeat(engine, Case, case_id, token, ctx.settings.job_lease_seconds):  # type: ignore[arg-type]
        case = ctx.session.get(Case, case_id, populate_existing=True)
        if case is None:
            return "skipped"
        try:
            pending = [r for r in RECIPIENTS if not _sealed(ctx, case, r)]
            if pending:
                planner = _planner(ctx, case)
                for recipient in pending:
                    if not _seal_one(ctx, case, recipient, planner, token):
                        return "lost"
        except Conflict as exc:
            locked = _locked_if_ours(ctx, case_id, token)
            if locked is None:
                return "lost"
            locked.status, locked.error = "failed", exc.message
            locked.lease_owner, locked.lease_until = None, None
            audit.record(
                ctx, "case.sealed", "failed", "case", case_id, chain=case_id, detail={"reason": exc.message}
            )
            ctx.commit()
            return "failed"
    locked = _locked_if_ours(ctx, case_id, token)
    if locked is None:
        return "lost"
    locked.status, locked.lease_owner, locked.lease_until = "sealed", None, None
    answered = _answer_requests(ctx, locked)
    locked.bureau_status = BureauStatus.UNDER_REVIEW.value
    audit.record(
        ctx,
        "case.sealed",
        "ok",
        "case",
        case_id,
        chain=case_id,
        detail={"run": run, "version": locked.version, "answered_requests": answered},
    )
    ctx.commit()
    return "sealed"


def _answer_requests(ctx: ServiceContext, case: Case) -> int:
    """Mark the bureau's open requests about earlier versions answered by this one."""
    answered = ctx.session.execute(
        update(InformationRequest)
        .where(
            InformationRequest.case_id == case.id,
            InformationRequest.answered_version.is_(None),
            InformationRequest.version < case.version,
        )
        .values(answered_version=case.version, answered_at=ctx.clock.now())
        .execution_options(synchronize_session=False)
    )
    return int(answered.rowcount or 0)  # type: ignore[attr-defined]


def _sealed(ctx: ServiceContext, case: Case, recipient: str) -> bool:
    found = ctx.session.scalar(
        select(Bundle.id).where(
            Bundle.case_id == case.id, Bundle.recipient == recipient, Bundle.version == case.version
        )
    )
    return found is not None


def _previous_bundle(ctx: ServiceContext, case: Case, recipient: str) -> str | None:
    """The same recipient's bundle of the latest earlier version, which a new version links to."""
    return ctx.session.scalar(
        select(Bundle.id)
        .where(Bundle.case_id == case.id, Bundle.recipient == recipient, Bundle.version < case.version)
        .order_by(Bundle.version.desc())
        .limit(1)
    )


def _planner(ctx: ServiceContext, case: Case) -> RecipientPlanner:
    policy = current_policy(ctx, case)
    if policy is None:
        raise Conflict("the case has no policy; nothing was shared")
    # The case's label state, so a title says [CUSTOMER-1] for the same
    # customer its documents call [CUSTOMER-1].
    parsed = load_policy(policy.source_text)
    return RecipientPlanner(Detector(parsed), parsed, Labeller(case.label_state))


def _member_name(planner: RecipientPlanner, row: CaseFile, output: RedactedFile, recipient: str) -> str:
    # Outputs from before names were redacted by the processing worker have
    # no name; redact the upload's name now rather than ever sealing it raw.
    if output.name is not None:
        return output.name
    # Stem and extension apart: a legal suffix's abbreviation dot
    # ("... GmbH.pdf") would otherwise take the extension's dot with it.
    stem, dot, ext = row.name.rpartition(".")
    if not (dot and stem and _EXTENSION.fullmatch(ext)):
        return planner.redact_name(row.name, recipient)
    return f"{planner.redact_name(stem, recipient)}.{planner.redact_name(ext, recipient)}"


def _require_clean(planner: RecipientPlanner, original: str, shown: str, recipient: str, what: str) -> None:
    """Fail closed when a name still holds a value the recipient must not see.

    Names are checked like file contents: against what detection found in the
    original plus every declared term the recipient's policy redacts, so a
    stored name computed under another policy version cannot slip through.
    """
    values = planner.sensitive(planner.findings(original), recipient)
    if find_leaks(shown, values):
        raise Conflict(f"{what} would show redacted content to the {recipient}; nothing was shared")


def _seal_one(ctx: ServiceContext, case: Case, recipient: str, planner: RecipientPlanner, token: str) -> bool:
    """Seal and share one recipient's bundle; False (nothing shared, no blob left) if the lease was lost."""
    org = _recipient_org(case, recipient)
    if not org.age_recipient:
        raise Conflict(f"organisation {org.name} has no public key; nothing was shared")
    files: list[CaseFile] = list(case.files)
    outputs: list[tuple[CaseFile, RedactedFile]] = []
    for row in files:
        output = next((o for o in row.outputs if o.recipient == recipient), None)
        if output is not None and output.status == "excluded":
            continue  # the recipient's policy leaves this file out (e.g. videos: exclude)
        if output is None or output.status != "ok" or not output.blob_key:
            raise Conflict(f"{row.name} has no verified output for the {recipient}; nothing was shared")
        outputs.append((row, output))
    title = planner.redact_name(case.title, recipient)
    _require_clean(planner, case.title, title, recipient, "the case title")
    bundle_id = new_id()
    taken: set[str] = set()
    with private_workspace() as work:
        entries: list[ManifestEntry] = []
        members: list[dict[str, Any]] = []
        plain_paths: list[tuple[str, Path]] = []
        for index, (row, output) in enumerate(outputs):
            path = work / f"member-{index}"
            with path.open("wb") as sink:
                ctx.blobs.get_to(output.blob_key, sink)  # type: ignore[arg-type]
            data_hash = _sha256_file(path)
            if data_hash != output.sha256:
                raise Conflict(f"stored output of {row.name} does not match its hash; nothing was shared")
            name = safe_member_name(_member_name(planner, row, output, recipient), taken)
            _require_clean(planner, row.name, name, recipient, f"the name of {row.name}")
            # An engine may re-encode (HEIC to JPEG): the manifest names what the member holds.
            media_type = str((output.report or {}).get("output_media_type") or row.media_type)
            entries.append(ManifestEntry(name, path.stat().st_size, data_hash, media_type))
            members.append({"name": name, "size": path.stat().st_size, "version": row.version})
            plain_paths.append((name, path))
        manifest = build_manifest(
            bundle_id=bundle_id,
            case_id=case.id,
            case_title=title,
            recipient=recipient,
            organisation=org.name,
            created_at=ctx.clock.now().isoformat(),
            policy_hash=planner.policy.content_hash,
            entries=entries,
        )
        body = manifest_bytes(manifest)
        signature = sign(load_signing_key(ctx.settings.signing_key), body)
        archive = work / "bundle.tar"
        with ExitStack() as members_open, archive.open("wb") as out:
            write_archive(
                out,
                body,
                signature,
                [
                    BundleMember(name, path.stat().st_size, members_open.enter_context(path.open("rb")))
                    for name, path in plain_paths
                ],
            )
        sealed = work / "bundle.tar.age"
        with archive.open("rb") as plain, sealed.open("wb") as out:
            seal(plain, out, org.age_recipient)
        key = ctx.blobs.new_key("bundle")
        # Announced before written, so a job dying before the bundle row commits leaves no orphan.
        ctx.session.add(PendingBlob(key=key, created_at=ctx.clock.now()))
        ctx.session.commit()
        with sealed.open("rb") as sealed_in:
            ctx.blobs.put_raw(key, sealed_in)
        bundle = Bundle(
            id=bundle_id,
            case_id=case.id,
            org_id=org.id,
            recipient=recipient,
            blob_key=key,
            size=sealed.stat().st_size,
            sha256=_sha256_file(sealed),
            manifest_sha256=hashlib.sha256(body).hexdigest(),
            file_count=len(entries),
            title=title,
            version=case.version,
            previous_id=_previous_bundle(ctx, case, recipient),
        )
    locked = _locked_if_ours(ctx, case.id, token)
    if locked is None or _sealed(ctx, locked, recipient):
        ctx.session.rollback()
        _drop_pending(ctx, key)
        return locked is not None
    ctx.session.add(bundle)
    ctx.session.execute(delete(PendingBlob).where(PendingBlob.key == key))
    locked.label_state = planner.labeller.state()
    audit.record(
        ctx,
        "bundle.shared",
        "ok",
        "bundle",
        bundle_id,
        chain=case.id,
        detail={
            "recipient": recipient,
            "organisation": org.name,
            "files": len(entries),
            "manifest_sha256": bundle.manifest_sha256,
            "version": case.version,
            "previous_id": bundle.previous_id,
            "members": members,
        },
    )
    try:
        ctx.commit()
    except IntegrityError:
        # Another job shared this recipient's bundle first (a lease cannot prevent every race).
        ctx.session.rollback()
        _drop_pending(ctx, key)
    return True


def _drop_pending(ctx: ServiceContext, key: str) -> None:
    ctx.blobs.delete(key)
    ctx.session.execute(delete(PendingBlob).where(PendingBlob.key == key))
    ctx.session.commit()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def list_bundles(ctx: ServiceContext) -> list[dict[str, Any]]:
    if ctx.actor is None:
        raise NotFound("no such bundle")
    rows = ctx.session.scalars(
        select(Bundle).where(Bundle.org_id == ctx.actor.org_id).order_by(Bundle.created_at.desc())
    )
    return [bundle_view(b) for b in rows]


def bundle_view(bundle: Bundle) -> dict[str, Any]:
    return {
        "id": bundle.id,
        "case_id": bundle.case_id,
        # Only what sealing stored for this recipient; a bundle sealed before
        # titles were redacted shows a neutral name, never the case's title.
        "case_title": bundle.title if bundle.title is not None else f"Case {bundle.case_id[:8]}",
        "recipient": bundle.recipient,
        "organisation": bundle.org.name,
        "version": bundle.version,
        "previous_id": bundle.previous_id,
        "size": bundle.size,
        "sha256": bundle.sha256,
        "manifest_sha256": bundle.manifest_sha256,
        "file_count": bundle.file_count,
        "created_at": bundle.created_at.isoformat(),
        "filename": f"bundle-{bundle.id}.tar.age",
    }


def open_download(ctx: ServiceContext, bundle_id: str) -> tuple[Bundle, Iterator[bytes]]:
    """Authorise a download and log it; the caller streams the returned chunks."""
    bundle = (
        ctx.session.get(Bundle, bundle_id) if isinstance(bundle_id, str) and len(bundle_id) <= 36 else None
    )
    allowed = bundle is not None and ctx.actor is not None and bundle.org_id == ctx.actor.org_id
    if bundle is not None:
        audit.record(
            ctx,
            "bundle.download",
            "ok" if allowed else "denied",
            "bundle",
            bundle.id,
            chain=bundle.case_id,
            detail={"recipient": bundle.recipient},
        )
    else:
        audit.record(ctx, "bundle.download", "denied", "bundle", str(bundle_id)[:64])
    ctx.commit()
    if not allowed or bundle is None:
        raise NotFound("no such bundle")
    return bundle, ctx.blobs.raw_chunks(bundle.blob_key)


def signing_public_key(ctx: ServiceContext) -> str:
    return public_key_pem(load_signing_key(ctx.settings.signing_key))
