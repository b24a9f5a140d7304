"""One document through its engine: read once, detect once, redact per recipient.

The worker and ``exchange redact`` both call :func:`redact_document`;
``exchange scan`` calls :func:`read_document`. None of them branches on the
file type: the registry picks the engine.

Invariants: the document is read (parsed, OCR'd) once whatever the number of
recipients; every text unit is scanned in one batch before any recipient is
planned, so each plan starts with every value found anywhere in the file;
findings are reported with where they were read (page, source).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.domain.detection.outputs import finding_to_dict
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.redaction.base import EngineLimits, RedactionResult, SourceDocument
from exchange.domain.redaction.registry import engine_for


@dataclass(slots=True)
class DocumentOutcome:
    media_type: str
    #: JSON-ready findings, each with "page" (or None) and "source"
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: recipient -> its verified (or withheld) result
    results: dict[str, RedactionResult] = field(default_factory=dict)
    #: recipient-independent facts from reading (OCR confidence, ...)
    facts: dict[str, Any] = field(default_factory=dict)


def read_document(
    source: Path, media_type: str, planner: RecipientPlanner, limits: EngineLimits
) -> SourceDocument:
    """Parse ``source`` with its engine and scan every text unit in one batch."""
    document = engine_for(media_type).read(source, limits)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return document


def located_findings(planner: RecipientPlanner, recipient: str | None = None) -> list[dict[str, Any]]:
    """Findings as JSON, with the decision for ``recipient`` (or for every named recipient)."""
    strictest = recipient is not None and planner.recipient_policy(recipient) is None
    out = []
    for page, source, finding in planner.located_findings():
        row = {**finding_to_dict(finding, recipient), "page": page, "source": source}
        if strictest:
            # The planner's rule for a recipient the policy does not name, shown as it is applied.
            row["decision"], row["reason"] = "redact", "the policy does not name this recipient"
        out.append(row)
    return out


def redact_document(
    source: Path,
    media_type: str,
    planner: RecipientPlanner,
    recipients: Sequence[str],
    limits: EngineLimits,
) -> DocumentOutcome:
    engine = engine_for(media_type)
    document = read_document(source, media_type, planner, limits)
    facts = {k: v for k, v in document.facts.items() if isinstance(v, str | int | float | bool | dict | list)}
    outcome = DocumentOutcome(media_type=media_type, facts=facts)
    for recipient in recipients:
        outcome.results[recipient] = engine.redact(document, planner.plan(recipient))
    # After redaction: texts met only while redacting (bookmarks, form values) are findings too.
    outcome.findings = located_findings(planner)
    return outcome
