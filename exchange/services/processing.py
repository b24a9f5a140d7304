"""Processing: detect and redact every file of a case, once per recipient.

Runs on a worker. Invariants:
- Idempotent: a job names the case's run number; a job for an outdated run,
  or for a case no longer in ``processing``, does nothing. Re-running a run
  replaces that run's outputs.
- Fail closed: an output is stored only when verification found none of the
  recipient's sensitive values in it. A file that cannot be read, or whose
  output leaks, fails the case with a per-file reason, and nothing is shared.
- Plaintext exists only in the job's private workspace.
"""

from __future__ import annotations

import hashlib
import io
import logging

from exchange.domain.detection import Detector, Labeller, Policy, load_policy
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.errors import DomainError
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pipeline import DocumentOutcome, redact_document
from exchange.models import Case, CaseFile, RedactedFile
from exchange.services import audit
from exchange.services.cases import RECIPIENTS, current_policy
from exchange.services.context import ServiceContext
from exchange.services.workspace import private_workspace

log = logging.getLogger(__name__)


def process_case(ctx: ServiceContext, case_id: str, run: int) -> str:
    case = ctx.session.get(Case, case_id)
    if case is None or case.run != run or case.status != "processing":
        return "skipped"
    policy_row = current_policy(ctx, case)
    if policy_row is None:
        return _fail(ctx, case, "the case has no policy")
    policy = load_policy(policy_row.source_text)
    detector = Detector(policy)
    labeller = Labeller(case.label_state)
    files = list(case.files)
    problems: list[str] = []
    for index, row in enumerate(files, start=1):
        # The engine runs in a sandboxed child; its labeller comes back as a new object.
        labeller = _process_file(ctx, row, detector, policy, labeller)
        if row.status != "processed":
            problems.append(f"{row.name}: {row.error}")
        case.label_state = labeller.state()
        case.progress = int(100 * index / len(files))
        ctx.commit()
    if problems:
        return _fail(
            ctx,
            case,
            "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""),
        )
    case.status = "review"
    audit.record(
        ctx, "case.processed", "ok", "case", case.id, chain=case.id, detail={"run": run, "files": len(files)}
    )
    ctx.commit()
    return "review"


def mark_failed(ctx: ServiceContext, case_id: str, run: int, reason: str) -> str:
    """Give up on a run after an unexpected error, unless a newer run has started."""
    ctx.session.rollback()
    case = ctx.session.get(Case, case_id)
    if case is None or case.run != run or case.status not in ("processing", "sealing"):
        return "skipped"
    return _fail(ctx, case, reason)


def _fail(ctx: ServiceContext, case: Case, reason: str) -> str:
    case.status, case.error = "failed", reason
    audit.record(ctx, "case.processed", "failed", "case", case.id, chain=case.id, detail={"reason": reason})
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


def _process_file(
    ctx: ServiceContext, row: CaseFile, detector: Detector, policy: Policy, labeller: Labeller
) -> Labeller:
    """Redact one file for every recipient; returns the case's labeller as the file left it."""
    for old in list(row.outputs):
        if old.blob_key:
            # Only once the replacement is committed: a crash before then keeps the old rows valid.
            key = old.blob_key
            ctx.after_commit(lambda key=key: ctx.blobs.delete(key))  # type: ignore[misc]
        ctx.session.delete(old)
    ctx.session.flush()
    row.error, row.findings = None, None
    planner = RecipientPlanner(detector, policy, labeller)
    limits: EngineLimits = ctx.settings.engine_limits
    try:
        with private_workspace() as work:
            source = work / "source"
            with source.open("wb") as handle:
                ctx.blobs.get_to(row.blob_key, handle)
            outcome = redact_document(
                source,
                row.media_type,
                planner,
                RECIPIENTS,
                limits,
                sandbox=ctx.settings.sandbox_limits,
                workdir=work,
            )
    except DomainError as exc:
        row.status, row.error = "failed", exc.message
        return labeller
    except Exception:
        # A bug in one engine fails that file, not the case's other files nor the worker.
        log.exception("engine error on file %s", row.id)
        row.status, row.error = "failed", "internal error while redacting this file; the incident was logged"
        return labeller
    _store_outputs(ctx, row, planner, outcome)
    return planner.labeller


def _store_outputs(
    ctx: ServiceContext, row: CaseFile, planner: RecipientPlanner, outcome: DocumentOutcome
) -> None:
    row.findings = outcome.findings
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
            ctx.blobs.put(output.blob_key, io.BytesIO(result.data))
            output.size, output.sha256 = len(result.data), hashlib.sha256(result.data).hexdigest()
        else:
            withheld.append((recipient, str(report.get("withheld") or "the file could not be redacted")))
        ctx.session.add(output)
    if not withheld:
        row.status = "processed"
        return
    row.status = "failed"
    reasons: dict[str, list[str]] = {}
    for recipient, reason in withheld:
        reasons.setdefault(reason, []).append(recipient)
    row.error = "; ".join(f"{reason} (for the {', '.join(who)})" for reason, who in reasons.items())
    row.error += "; nothing will be shared"
