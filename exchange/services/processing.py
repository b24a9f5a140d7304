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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from exchange.domain.detection import (
    Detector,
    Labeller,
    Policy,
    finding_to_dict,
    load_policy,
    redactions_for,
    sensitive_values,
)
from exchange.domain.detection.findings import Finding, Redaction
from exchange.domain.errors import DomainError, UnsupportedFile
from exchange.domain.filetypes import PDF, TEXT
from exchange.domain.redaction.pdf import extract_pdf_text, redact_pdf
from exchange.domain.redaction.text import decode_text, find_leaks, redact_text
from exchange.models import Case, CaseFile, RedactedFile
from exchange.services import audit
from exchange.services.cases import RECIPIENTS, current_policy
from exchange.services.context import ServiceContext
from exchange.services.workspace import private_workspace

log = logging.getLogger(__name__)


class FileOutcome:
    def __init__(self) -> None:
        self.findings: list[dict[str, Any]] = []
        #: recipient -> (status, redacted bytes or None, report)
        self.outputs: dict[str, tuple[str, bytes | None, dict[str, Any]]] = {}


def _recipient_redactions(
    findings: Sequence[Finding], recipient: str, policy: Policy, labeller: Labeller
) -> list[Redaction]:
    if recipient not in policy.recipients:
        # A recipient the policy does not mention gets the strictest view: everything found is removed.
        return [Redaction(f.start, f.end, f.entity_type, None) for f in findings]
    return redactions_for(findings, recipient, policy, labeller)


def _recipient_sensitive(findings: Sequence[Finding], recipient: str, policy: Policy) -> list[str]:
    if recipient not in policy.recipients:
        return sorted({f.text for f in findings} | set(policy.customers) | set(policy.trade_secrets))
    return sensitive_values(findings, recipient, policy)


def redact_text_file(data: bytes, detector: Detector, policy: Policy, labeller: Labeller) -> FileOutcome:
    text = decode_text(data)
    findings = detector.scan(text)
    outcome = FileOutcome()
    outcome.findings = [finding_to_dict(f) for f in findings]
    for recipient in RECIPIENTS:
        spans = _recipient_redactions(findings, recipient, policy, labeller)
        redacted = redact_text(text, spans)
        leaks = find_leaks(redacted, _recipient_sensitive(findings, recipient, policy))
        report: dict[str, Any] = {
            "kind": "text",
            "redactions": _count_types(spans),
            "verification": {"ok": not leaks, "leaks": len(leaks)},
        }
        outcome.outputs[recipient] = ("leak", None, report) if leaks else ("ok", redacted.encode(), report)
    return outcome


def redact_pdf_file(path: Path, detector: Detector, policy: Policy, labeller: Labeller) -> FileOutcome:
    pages = extract_pdf_text(path)
    page_findings = detector.scan_many(pages)
    memo: dict[str, list[Finding]] = dict(zip(pages, page_findings, strict=True))
    outcome = FileOutcome()
    for number, findings in enumerate(page_findings, start=1):
        outcome.findings.extend({**finding_to_dict(f), "page": number} for f in findings)
    all_findings = [f for fs in page_findings for f in fs]

    def finder(recipient: str, sensitive: list[str]) -> Callable[[str], Sequence[Redaction]]:
        known = set(sensitive)

        def find(text: str) -> Sequence[Redaction]:
            if text not in memo:
                memo[text] = detector.scan(text)
            # Text outside the page stream (bookmarks, annotations, form values) can bring new
            # findings; the engine reads sensitive values only when verifying, so add them now.
            for value in _recipient_sensitive(memo[text], recipient, policy):
                if value not in known:
                    known.add(value)
                    sensitive.append(value)
            return _recipient_redactions(memo[text], recipient, policy, labeller)

        return find

    for recipient in RECIPIENTS:
        rpolicy = policy.recipients.get(recipient)
        sensitive = _recipient_sensitive(all_findings, recipient, policy)
        result = redact_pdf(
            path,
            find=finder(recipient, sensitive),
            sensitive_values=sensitive,
            mode=rpolicy.mode if rpolicy else "surgical",
        )
        report = {"kind": "pdf", **result.report}
        outcome.outputs[recipient] = ("ok", result.data, report) if result.ok else ("leak", None, report)
    return outcome


def _count_types(redactions: Sequence[Redaction]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for red in redactions:
        counts[red.entity_type] = counts.get(red.entity_type, 0) + 1
    return counts


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
        _process_file(ctx, row, detector, policy, labeller)
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


def _redact_by_type(
    media_type: str, source: Path, detector: Detector, policy: Policy, labeller: Labeller
) -> FileOutcome:
    if media_type == TEXT:
        return redact_text_file(source.read_bytes(), detector, policy, labeller)
    if media_type == PDF:
        return redact_pdf_file(source, detector, policy, labeller)
    raise UnsupportedFile(f"no redaction engine for {media_type}")


def _process_file(
    ctx: ServiceContext, row: CaseFile, detector: Detector, policy: Policy, labeller: Labeller
) -> None:
    for old in list(row.outputs):
        if old.blob_key:
            # Only once the replacement is committed: a crash before then keeps the old rows valid.
            key = old.blob_key
            ctx.after_commit(lambda key=key: ctx.blobs.delete(key))  # type: ignore[misc]
        ctx.session.delete(old)
    ctx.session.flush()
    row.error, row.findings = None, None
    try:
        with private_workspace() as work:
            source = work / "source"
            with source.open("wb") as handle:
                ctx.blobs.get_to(row.blob_key, handle)
            outcome = _redact_by_type(row.media_type, source, detector, policy, labeller)
    except DomainError as exc:
        row.status, row.error = "failed", exc.message
        return
    row.findings = outcome.findings
    leaked = []
    for recipient, (status, data, report) in outcome.outputs.items():
        output = RedactedFile(file_id=row.id, recipient=recipient, status=status, report=report)
        if status == "ok" and data is not None:
            output.blob_key = ctx.blobs.new_key("redacted")
            ctx.blobs.put(output.blob_key, io.BytesIO(data))
            output.size, output.sha256 = len(data), hashlib.sha256(data).hexdigest()
        else:
            leaked.append(recipient)
        ctx.session.add(output)
    if leaked:
        row.status = "failed"
        who = ", ".join(leaked)
        row.error = f"verification found redacted content in the output for {who}; nothing will be shared"
    else:
        row.status = "processed"
