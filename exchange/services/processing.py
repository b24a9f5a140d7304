"""Processing: detect and redact a case's files, one job per file, joined by the last one.

Runs on workers. The unit of work is one file: its engine reads (and OCRs)
the file once and redacts it for every recipient inside one sandboxed
child, so splitting a file by recipient would read it twice. Pages of one
PDF stay in one job for the same reason.

Invariants:
- Idempotent: a job names (case, file, run). It runs only if it claims the
  file's lease (see :mod:`exchange.services.runs`): a job for an outdated
  run, a file already done, or a file whose lease a live job holds, is
  skipped. A job whose lease was taken over after its worker stalled
  discards its results.
- Exactly once per run: the job that completes the last file of a run
  finalises the case (``review`` or ``failed``) under the case's row lock;
  the reconciler finalises a run whose last job died after its file was
  done. A file whose worker died ``MAX_ATTEMPTS`` times fails with a reason
  instead of killing workers forever.
- Labels: a file starts from the case's label state and its new labels are
  merged under the row lock; a clash with labels another file committed
  meanwhile re-runs the file from the merged state (bounded).
- Fail closed: an output is stored only when verification found none of the
  recipient's sensitive values in it. A file that cannot be read, or whose
  output leaks, fails the case with a per-file reason, and nothing is shared.
- A file is redacted with the applicant's review as it stood when its job
  began (the review cannot change while the case is processing), and its
  ``processed_key`` names what its outputs were made from, so the next
  submit redoes only files whose content, policy, review or engine changed.
- Plaintext exists only in the job's private workspace. Blobs are announced
  in ``pending_blobs`` before they are written, so a job that dies before
  adopting them leaves nothing the reconciler cannot find.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import delete, insert, or_, select, update

from exchange.domain.detection import Detector, Labeller, Policy, load_policy
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.errors import DomainError, StorageFull, StorageUnavailable
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pipeline import DocumentOutcome, redact_document
from exchange.models import Case, CaseFile, FindingRow, PendingBlob, RedactedFile
from exchange.services import audit, outbox
from exchange.services.cases import PROCESS_FILE_TASK, RECIPIENTS, current_policy
from exchange.services.context import ServiceContext
from exchange.services.review import file_review, processed_key
from exchange.services.runs import (
    Heartbeat,
    finalise_if_done,
    lease_end,
    lock_case,
    merge_label_state,
    new_token,
)
from exchange.services.workspace import private_workspace

log = logging.getLogger(__name__)

#: a file whose job died this many times fails (a file that kills its worker must not loop)
MAX_ATTEMPTS = 3
#: how often a file is redone because another file took its new label numbers meanwhile
MAX_LABEL_RETRIES = 6
_FINDINGS_BATCH = 5000
_DETECTORS: OrderedDict[str, tuple[Policy, Detector]] = OrderedDict()


def _detector(text: str) -> tuple[Policy, Detector]:
    """A detector per policy, kept per worker process: loading the NLP model per file would dominate."""
    policy = load_policy(text)
    cached = _DETECTORS.get(policy.content_hash)
    if cached is None:
        cached = (policy, Detector(policy))
        _DETECTORS[policy.content_hash] = cached
        while len(_DETECTORS) > 4:
            _DETECTORS.popitem(last=False)
    else:
        _DETECTORS.move_to_end(policy.content_hash)
    return cached


def _claim(ctx: ServiceContext, case_id: str, file_id: str, run: int, token: str) -> bool:
    now = ctx.clock.now()
    live_run = select(Case.id).where(Case.id == case_id, Case.run == run, Case.status == "processing")
    claimed = ctx.session.execute(
        update(CaseFile)
        .where(
            CaseFile.id == file_id,
            CaseFile.case_id.in_(live_run),
            CaseFile.run == run,
            or_(
                CaseFile.status == "queued",
                (CaseFile.status == "running") & (CaseFile.lease_until < now),
            ),
        )
        .values(
            status="running",
            lease_owner=token,
            lease_until=lease_end(now, ctx.settings.job_lease_seconds),
            attempts=CaseFile.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    ctx.session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def process_file(ctx: ServiceContext, case_id: str, file_id: str, run: int) -> str:
    """Redact one file for every recipient; finalise the case if it was the run's last."""
    job = _Job(case_id, file_id, run, new_token())
    if not _claim(ctx, case_id, file_id, run, job.token):
        return "skipped"
    row = ctx.session.get(CaseFile, file_id, populate_existing=True)
    if row is None:
        return "skipped"
    if row.attempts > MAX_ATTEMPTS:
        return _settle(ctx, job, None, "its job stopped (worker lost) too often")
    engine = ctx.session.get_bind()
    with Heartbeat(engine, CaseFile, file_id, job.token, ctx.settings.job_lease_seconds):  # type: ignore[arg-type]
        for _attempt in range(MAX_LABEL_RETRIES):
            ctx.session.expire_all()
            case = ctx.session.get(Case, case_id)
            policy_row = current_policy(ctx, case) if case is not None else None
            if case is None or policy_row is None:
                return _settle(ctx, job, None, "the case has no policy")
            base = dict(case.label_state) if case.label_state else None
            review = file_review(ctx, file_id)
            key = processed_key(row.sha256, policy_row.content_hash, review.fingerprint())
            ctx.session.commit()  # no transaction stays open while the engine runs
            policy, detector = _detector(policy_row.source_text)
            planner = RecipientPlanner(detector, policy, Labeller(base), review=review)
            try:
                outcome = _redact(ctx, row, planner)
            except DomainError as exc:
                return _settle(ctx, job, None, exc.message)
            except Exception:
                # A bug in one engine fails that file, not the case's other files nor the worker.
                log.exception("engine error on file %s", file_id)
                reason = "internal error while redacting this file; the incident was logged"
                return _settle(ctx, job, None, reason)
            try:
                stored = _store_blobs(ctx, row, planner, outcome)
            except StorageUnavailable as exc:
                return _settle(ctx, job, None, f"the redacted copies could not be stored: {exc.message}")
            stored.processed_key = key if stored.status == "processed" else None
            stored.page_count = _page_count(outcome.facts)
            result = _settle(ctx, job, stored, None, base=base, labels=planner.labeller.state())
            if result != "relabel":
                return result
        return _settle(ctx, job, None, "labels kept clashing with other files; submit again")


_T = TypeVar("_T")

#: seconds to wait before each retry of an object-store call that found the store unavailable
STORE_RETRY_DELAYS = (1.0, 4.0, 15.0)


def _store_retrying(action: Callable[[], _T]) -> _T:
    """Run a blob-store call, retrying a brief outage with backoff; a full store is final.

    The job holds its lease meanwhile (the heartbeat runs), so nobody else takes the file.
    """
    for delay in (*STORE_RETRY_DELAYS, None):
        try:
            return action()
        except StorageFull:
            raise
        except StorageUnavailable:
            if delay is None:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _put_bytes(ctx: ServiceContext, key: str, data: bytes) -> int:
    return ctx.blobs.put(key, io.BytesIO(data))  # a fresh reader per attempt


def _redact(ctx: ServiceContext, row: CaseFile, planner: RecipientPlanner) -> DocumentOutcome:
    limits: EngineLimits = ctx.settings.engine_limits
    with private_workspace() as work:
        source = work / "source"

        def fetch() -> None:
            with source.open("wb") as handle:
                ctx.blobs.get_to(row.blob_key, handle)

        _store_retrying(fetch)
        return redact_document(
            source,
            row.media_type,
            planner,
            RECIPIENTS,
            limits,
            sandbox=ctx.settings.sandbox_limits,
            workdir=work,
        )


@dataclass
class _Stored:
    """A file's results, blobs already written (and announced as pending) but not yet adopted."""

    outputs: list[RedactedFile]
    findings: list[dict[str, Any]]
    status: str
    error: str | None
    #: what the outputs were made from (see ``review.processed_key``); None unless processed
    processed_key: str | None = None
    page_count: int | None = None

    @property
    def keys(self) -> list[str]:
        return [o.blob_key for o in self.outputs if o.blob_key]


def _store_blobs(
    ctx: ServiceContext, row: CaseFile, planner: RecipientPlanner, outcome: DocumentOutcome
) -> _Stored:
    outputs: list[RedactedFile] = []
    withheld: list[tuple[str, str]] = []
    for recipient, result in outcome.results.items():
        report = {**result.report, "output_media_type": result.media_type or row.media_type}
        verified = result.ok and result.data is not None
        status = "ok" if verified else ("leak" if result.leaks else "error")
        if result.ok and result.excluded:
            status = "excluded"
            report["excluded"] = result.excluded
        output = RedactedFile(file_id=row.id, recipient=recipient, status=status, report=report)
        output.name = recipient_file_name(row.name, recipient, planner, result.extension)
        if status == "excluded":
            pass  # the recipient's policy leaves the file out of its bundle; nothing to store
        elif status == "ok" and result.data is not None:
            output.blob_key = ctx.blobs.new_key("redacted")
            output.size, output.sha256 = len(result.data), hashlib.sha256(result.data).hexdigest()
        else:
            withheld.append((recipient, str(report.get("withheld") or "the file could not be redacted")))
        outputs.append(output)
    stored = _Stored(outputs, outcome.findings, "processed", None)
    # Announced before written: a job that dies between the two leaves a row the reconciler cleans up.
    ctx.session.add_all([PendingBlob(key=k, created_at=ctx.clock.now()) for k in stored.keys])
    ctx.session.commit()
    for output in outputs:
        if output.blob_key:
            key, data = output.blob_key, outcome.results[output.recipient].data
            assert data is not None  # noqa: S101  (only verified outputs get a key)
            # A put that still fails leaves its key pending: the reconciler deletes it.
            _store_retrying(partial(_put_bytes, ctx, key, data))
    if withheld:
        reasons: dict[str, list[str]] = {}
        for recipient, reason in withheld:
            reasons.setdefault(reason, []).append(recipient)
        stored.status = "failed"
        stored.error = "; ".join(f"{reason} (for the {', '.join(who)})" for reason, who in reasons.items())
        stored.error += "; nothing will be shared"
    return stored


def _page_count(facts: dict[str, Any]) -> int | None:
    count = facts.get("page_count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def _discard(ctx: ServiceContext, stored: _Stored | None) -> None:
    if stored is None:
        return
    for key in stored.keys:
        ctx.blobs.delete(key)
    if stored.keys:
        ctx.session.execute(delete(PendingBlob).where(PendingBlob.key.in_(stored.keys)))
        ctx.session.commit()


@dataclass(frozen=True)
class _Job:
    case_id: str
    file_id: str
    run: int
    token: str


def _settle(
    ctx: ServiceContext,
    job: _Job,
    stored: _Stored | None,
    error: str | None,
    *,
    base: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
) -> str:
    """Under the case's lock: adopt the file's results (or its failure) and finalise a finished run.

    Returns "relabel" (nothing written) when the file's labels clash with
    what other files committed meanwhile.
    """
    case_id, file_id, run, token = job.case_id, job.file_id, job.run, job.token
    ctx.session.rollback()
    case = lock_case(ctx.session, case_id)
    row = ctx.session.get(CaseFile, file_id, populate_existing=True)
    if case is None or row is None or row.lease_owner != token or row.run != run or case.run != run:
        # Our lease was taken over (we stalled past it) or a new run began: someone else owns the file.
        ctx.session.rollback()
        _discard(ctx, stored)
        return "lost"
    if stored is not None and labels is not None:
        merged = merge_label_state(case.label_state, base, labels)
        if merged is None:
            ctx.session.rollback()
            _discard(ctx, stored)
            return "relabel"
        case.label_state = merged
    old_outputs = list(ctx.session.scalars(select(RedactedFile).where(RedactedFile.file_id == file_id)))
    old_keys = [o.blob_key for o in old_outputs if o.blob_key]
    for old in old_outputs:
        ctx.session.delete(old)
    ctx.session.execute(delete(FindingRow).where(FindingRow.file_id == file_id))
    ctx.session.flush()
    counts: dict[str, int] = {}
    if stored is None:
        row.status, row.error, row.processed_key = "failed", error, None
    else:
        ctx.session.add_all(stored.outputs)
        counts = _insert_findings(ctx, file_id, stored.findings)
        row.status, row.error = stored.status, stored.error
        if ctx.settings.preview_eager:
            # Page images for the review page (services.previews.RENDER_TASK), queued in this commit;
            # a file withheld for a recipient gets them too: the applicant reviews it to fix it.
            # Otherwise the review page asks for them (previews.request_render) when first opened.
            outbox.add(ctx, [("exchange.render_pages", (case_id, file_id, run))])
        row.processed_key = stored.processed_key
        if stored.page_count is not None:
            row.page_count = stored.page_count
        if stored.keys:
            ctx.session.execute(delete(PendingBlob).where(PendingBlob.key.in_(stored.keys)))
    row.finding_counts = counts
    row.lease_owner, row.lease_until = None, None
    finalise_if_done(ctx, case)
    ctx.commit()
    # Only once the replacement is committed: a crash before then keeps the old rows valid.
    for key in old_keys:
        ctx.blobs.delete(key)
    return row.status


def _insert_findings(ctx: ServiceContext, file_id: str, findings: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    for item in findings:
        kind = str(item.get("entity_type"))
        counts[kind] = counts.get(kind, 0) + 1
        decisions, reasons = item.get("decision"), item.get("reason")
        batch.append(
            {
                "file_id": file_id,
                "page": item.get("page"),
                "source": str(item.get("source") or "other"),
                "entity_type": kind,
                "text": str(item.get("text") or ""),
                "start": int(item.get("start") or 0),
                "end": int(item.get("end") or 0),
                "score": float(item.get("score") or 0.0),
                "recognizer": item.get("recognizer"),
                "explanation": item.get("explanation"),
                "suggestion": bool(item.get("suggestion")),
                "decisions": decisions if isinstance(decisions, dict) else None,
                "reasons": reasons if isinstance(reasons, dict) else None,
            }
        )
        if len(batch) >= _FINDINGS_BATCH:
            ctx.session.execute(insert(FindingRow), batch)
            batch = []
    if batch:
        ctx.session.execute(insert(FindingRow), batch)
    return counts


def finalise_case(ctx: ServiceContext, case_id: str, run: int) -> str:
    """The reconciler's join: finalise a run whose files are all done (idempotent)."""
    case = lock_case(ctx.session, case_id)
    if case is None or case.run != run or case.status != "processing":
        ctx.session.rollback()
        return "skipped"
    outcome = finalise_if_done(ctx, case)
    ctx.commit()
    return outcome or "pending"


def requeue_case(ctx: ServiceContext, case_id: str, run: int) -> str:
    """Queue again every file of the run that is queued (the old one-job-per-case task lands here)."""
    case = ctx.session.get(Case, case_id)
    if case is None or case.run != run or case.status != "processing":
        return "skipped"
    files = ctx.session.scalars(
        select(CaseFile.id).where(
            CaseFile.case_id == case_id, CaseFile.run == run, CaseFile.status == "queued"
        )
    ).all()
    if not files:
        return finalise_case(ctx, case_id, run)
    outbox.add(ctx, [(PROCESS_FILE_TASK, (case_id, file_id, run)) for file_id in files])
    ctx.commit()
    return "requeued"


def mark_failed(ctx: ServiceContext, case_id: str, run: int, reason: str) -> str:
    """Give up on a run after an unexpected error, unless a newer run has started."""
    ctx.session.rollback()
    case = lock_case(ctx.session, case_id)
    if case is None or case.run != run or case.status not in ("processing", "sealing"):
        ctx.session.rollback()
        return "skipped"
    case.status, case.error = "failed", reason
    case.lease_owner, case.lease_until = None, None
    audit.record(ctx, "case.processed", "failed", "case", case.id, chain=case.id, detail={"reason": reason})
    ctx.commit()
    return "failed"


def mark_file_failed(ctx: ServiceContext, case_id: str, file_id: str, run: int, reason: str) -> str:
    """Fail one file after an unexpected error in its job (if the job still owns it), then join."""
    ctx.session.rollback()
    case = lock_case(ctx.session, case_id)
    row = ctx.session.get(CaseFile, file_id, populate_existing=True)
    if case is None or row is None or case.run != run or row.run != run or row.status != "running":
        ctx.session.rollback()
        return "skipped"
    row.status, row.error, row.lease_owner, row.lease_until = "failed", reason, None, None
    finalise_if_done(ctx, case)
    ctx.commit()
    return "failed"


def recipient_file_name(name: str, recipient: str, planner: RecipientPlanner, extension: str) -> str:
    """The file name as ``recipient`` sees it: stem redacted like text, the output's extension.

    Stem and extension are redacted apart: a declared "... GmbH." would
    otherwise swallow the dot and leave "████pdf".
    """
    stem, dot, old = name.rpartition(".")
    if not dot or not stem or not old.isalnum() or len(old) > 5:
        stem, old = name, ""
    shown = planner.redact_name(stem, recipient)
    if extension:
        return shown + extension
    if old and planner.redact_name(old, recipient) == old:
        return f"{shown}.{old}"
    return shown
