"""One document through its engine: read once, detect once, redact per recipient.

The worker and ``exchange redact`` both call :func:`redact_document`;
``exchange scan`` calls :func:`read_document`. None of them branches on the
file type: the registry picks the engine.

Invariants: the document is read (parsed, OCR'd) once whatever the number of
recipients; every text unit is scanned in one batch before any recipient is
planned, so each plan starts with every value found anywhere in the file;
findings are reported with where they were read (page, source).

Every engine runs in a sandbox (:mod:`.sandbox`): a forked child with
resource limits, writes confined to a private working directory, and a
wall-clock deadline of ``EngineLimits.max_seconds_per_file``. A crash, hang
or runaway fails that file with a one-line :class:`UnsupportedFile` reason.
The child reuses the parent's loaded detector; what it learns comes back so
the caller's planner ends as if the work had run in-process: the labeller's
state (``planner.labeller`` is replaced by a new :class:`Labeller`, so read
it from the planner afterwards) and the planner's memo of texts with
findings, with where they were read (adopted without scanning again). Texts
without findings do not come back: they are most of a large file, and the
caller's planner would scan one again only if asked about it. How the child
was confined is in the facts under ``"sandbox"``.

Memory: units are handed to the planner in batches (no second list of every
text and place), and nothing per text crosses back from the child but the
texts with findings (and the units, for :func:`read_document` only).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from exchange.domain.detection.labels import Labeller
from exchange.domain.detection.outputs import finding_to_dict
from exchange.domain.detection.planner import MemoEntry, RecipientPlanner
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    new_report,
    paints_boxes,
    withheld,
)
from exchange.domain.redaction.registry import engine_for
from exchange.domain.redaction.sandbox import INTERNAL_ERROR, SandboxLimits, run_sandboxed

#: why a file with manual boxes is withheld from a recipient when its engine cannot paint them
NO_BOXES = "manual boxes apply to PDF pages and images; select the text to redact instead"


@dataclass(slots=True)
class DocumentOutcome:
    media_type: str
    #: JSON-ready findings, each with "page" (or None) and "source"
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: recipient -> its verified (or withheld) result
    results: dict[str, RedactionResult] = field(default_factory=dict)
    #: recipient-independent facts from reading (OCR confidence, ...)
    facts: dict[str, Any] = field(default_factory=dict)


def _read(source: Path, media_type: str, planner: RecipientPlanner, limits: EngineLimits) -> SourceDocument:
    document = engine_for(media_type).read(source, limits)
    scan_units(planner, document.units)
    return document


def scan_units(planner: RecipientPlanner, units: Sequence[TextUnit]) -> None:
    """Scan every unit, noting where it was read, a batch at a time: never a second copy of them all."""
    step = planner.SCAN_BATCH
    for start in range(0, len(units), step):
        batch = units[start : start + step]
        planner.scan([u.text for u in batch], [(u.page, u.source) for u in batch])


def located_findings(planner: RecipientPlanner, recipient: str | None = None) -> list[dict[str, Any]]:
    """Findings as JSON, with the decision for ``recipient`` (or for every named recipient)."""
    strictest = recipient is not None and planner.recipient_policy(recipient) is None
    out = []
    reviewed = [recipient] if recipient is not None else sorted(planner.review.recipients)
    for page, source, finding in planner.located_findings():
        row = {**finding_to_dict(finding, recipient), "page": page, "source": source}
        if strictest:
            # The planner's rule for a recipient the policy does not name, shown as it is applied.
            row["decision"], row["reason"] = "redact", "the policy does not name this recipient"
        for name in reviewed:
            decision = planner.reviewed(finding, name)
            if decision is None:
                continue
            if recipient is not None:
                row["decision"], row["reason"] = decision.action, decision.reason
            else:
                row["decision"] = {**row["decision"], name: decision.action}
                row["reason"] = {**row["reason"], name: decision.reason}
        out.append(row)
    return out


def _redact(
    document: SourceDocument, planner: RecipientPlanner, recipients: Sequence[str]
) -> DocumentOutcome:
    engine = engine_for(document.media_type)
    outcome = DocumentOutcome(media_type=document.media_type, facts=_plain_facts(document))
    for recipient in recipients:
        plan = planner.plan(recipient)
        if plan.boxes and not paints_boxes(engine):
            # A box drawn by the applicant cannot be honoured here: never share the file unboxed.
            outcome.results[recipient] = withheld(new_report(engine.format), NO_BOXES, document.media_type)
            continue
        result = engine.redact(document, plan)
        # Engines describe leaks with their own types; only plain data crosses the sandbox.
        result.leaks = [_plain_leak(leak) for leak in result.leaks]
        outcome.results[recipient] = result
    # After redaction: texts met only while redacting (bookmarks, form values) are findings too.
    outcome.findings = located_findings(planner)
    return outcome


def _plain_leak(leak: Any) -> Any:
    if isinstance(leak, str | int | float | dict):
        return leak
    as_dict = getattr(leak, "as_dict", None)
    return as_dict() if callable(as_dict) else {"kind": type(leak).__name__}


def read_document(
    source: Path,
    media_type: str,
    planner: RecipientPlanner,
    limits: EngineLimits,
    *,
    sandbox: SandboxLimits | None = None,
    workdir: Path | None = None,
) -> SourceDocument:
    """Parse ``source`` with its engine and scan every text unit in one batch, sandboxed.

    Returns a plain :class:`SourceDocument` (units and report facts): the
    engine's own parsed state stays in the child. ``planner`` holds the
    findings afterwards, as if it had scanned the units itself.
    """

    def work(staged: Path) -> _ChildWork:
        document = _read(staged, media_type, planner, limits)
        return _ChildWork(
            list(document.units), _plain_facts(document), planner.memo(), planner.labeller.state()
        )

    done, confinement = _sandboxed(work, source, limits, sandbox, workdir)
    _take_back(planner, done)
    return SourceDocument(
        path=source, media_type=media_type, units=done.units, facts={**done.facts, "sandbox": confinement}
    )


def redact_document(
    source: Path,
    media_type: str,
    planner: RecipientPlanner,
    recipients: Sequence[str],
    limits: EngineLimits,
    *,
    sandbox: SandboxLimits | None = None,
    workdir: Path | None = None,
) -> DocumentOutcome:
    """Read, scan and redact ``source`` for each recipient, in one sandboxed child.

    ``sandbox`` defaults to :class:`SandboxLimits` defaults; its wall clock is
    always ``limits.max_seconds_per_file``. ``workdir`` (private, empty) is
    where the engine may write; by default a new temporary directory.
    """

    def work(staged: Path) -> _ChildWork:
        document = _read(staged, media_type, planner, limits)
        outcome = _redact(document, planner, recipients)
        # The caller needs the findings, not the units: they stay here.
        return _ChildWork([], {}, planner.memo(), planner.labeller.state(), outcome)

    done, confinement = _sandboxed(work, source, limits, sandbox, workdir)
    _take_back(planner, done)
    if done.outcome is None:
        raise UnsupportedFile(INTERNAL_ERROR)
    done.outcome.facts["sandbox"] = confinement
    return done.outcome


# -- the sandbox seam ------------------------------------------------------


@dataclass(slots=True)
class _ChildWork:
    """What the sandboxed child hands back besides its result."""

    units: list[TextUnit]
    facts: dict[str, Any]
    #: the child's planner memo: every text with findings, in order, with where it was read
    memo: list[MemoEntry]
    label_state: dict[str, Any]
    outcome: DocumentOutcome | None = None


def _sandboxed(
    work: Any, source: Path, limits: EngineLimits, sandbox: SandboxLimits | None, workdir: Path | None
) -> tuple[_ChildWork, dict[str, Any]]:
    # One deadline for the file, as the engines' own limits promise.
    settings = replace(sandbox or SandboxLimits(), wall_seconds=limits.max_seconds_per_file)
    with _workdir(workdir) as where:
        run = run_sandboxed(work, _stage(source, where), limits=settings, workdir=where)
    done = run.value
    if not isinstance(done, _ChildWork):
        raise UnsupportedFile(INTERNAL_ERROR)
    return done, run.confinement


def _stage(source: Path, workdir: Path) -> Path:
    """The source as the engine sees it: inside its working directory.

    Engines write their temporary files beside the source, and the sandbox
    lets them write only in ``workdir``; a source elsewhere (a CLI user's
    file) is copied in first. The worker already fetches it there.
    """
    if source.resolve().parent == workdir.resolve():
        return source
    staged = workdir / f"input{source.suffix[:16]}"
    try:
        shutil.copyfile(source, staged)
    except OSError as exc:
        raise UnsupportedFile(f"the file cannot be read ({exc.strerror})") from None
    return staged


@contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="exchange-sandbox-") as name:
        yield Path(name)


def _take_back(planner: RecipientPlanner, done: _ChildWork) -> None:
    """Leave ``planner`` as the child's was: same labels, same findings in the same order."""
    planner.labeller = Labeller(done.label_state)
    planner.adopt(done.memo)


def _plain_facts(document: SourceDocument) -> dict[str, Any]:
    return {k: v for k, v in document.facts.items() if isinstance(v, str | int | float | bool | dict | list)}
