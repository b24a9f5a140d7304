"""`exchange redact` — redact files for one recipient and verify them.

A thin adapter: it reads the policy and the inputs, lets the engine registry
pick the engine for each input by its content, and runs the same pipeline as
the workers (``exchange.domain.redaction.pipeline``) with the same recipient
planner. It never writes an output that did not pass verification, and it
prints no secret values: per-input errors are one line each, and the optional
report is the engines' secret-free JSON.

Text hidden from view that matched no finding (see the PDF engine) is
removed and reported as one ``warning:`` line per file, with page numbers;
so is a file whose OCR was not confident enough (``needs review``).

Exit status: 0 when every input was redacted and verified; 2 when an input
could not be read or is not supported (the others are still written); 3 when
verification found a leak in any output (that file is not written). 3 wins
over 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from exchange.cli.base import EXIT_BAD_INPUT, EXIT_LEAK, cli, fail
from exchange.domain.errors import DomainError

_HELP = """Redact FILEs (PDF, images, Office, CSV/text, video) for recipient NAME under POLICY.

\b
Writes DIR/<same file name> for every input that was redacted and passed
verification (an engine that re-encodes, e.g. HEIC to JPEG, changes the
extension). --report PATH writes a JSON report (no secret values).
OCR languages and limits come from EXCHANGE_OCR_LANGUAGES (default
eng+chi_sim), EXCHANGE_OCR_TIMEOUT, EXCHANGE_MAX_IMAGE_PIXELS, EXCHANGE_MAX_PAGES.
Exit 0: all done; 2: some input unreadable or unsupported (one line each on
stderr); 3: verification found a leak (that output is not written).
"""


def _output_name(path: Path, extension: str) -> str:
    if not extension or path.suffix.lower() == extension.lower():
        return path.name
    return path.stem + extension


def _redact_one(
    path: Path, out_dir: Path, planner: Any, recipient: str, *, limits: Any, sandbox: Any
) -> tuple[str, dict[str, Any], str | None]:
    """Returns (status, report, message); status is "ok", "bad_input" or "leak"."""
    from exchange.domain.filetypes import sniff_media_type
    from exchange.domain.redaction.pipeline import redact_document

    try:
        with path.open("rb") as handle:
            media_type = sniff_media_type(handle.read(8192), path.name, handle)
    except OSError as exc:
        return "bad_input", {}, f"{path}: cannot read ({exc.strerror})"
    except DomainError as exc:
        message = exc.message if exc.message.startswith(path.name) else f"{path}: {exc.message}"
        return "bad_input", {}, message
    try:
        outcome = redact_document(path, media_type, planner, [recipient], limits, sandbox=sandbox)
    except DomainError as exc:
        message = exc.message if exc.message.startswith(path.name) else f"{path}: {exc.message}"
        return "bad_input", {}, message
    result = outcome.results[recipient]
    if result.ok and result.data is not None:
        (out_dir / _output_name(path, result.extension)).write_bytes(result.data)
        return "ok", result.report, None
    reason = str(result.report.get("withheld") or "could not be redacted")
    if result.leaks:
        return "leak", result.report, f"{path}: {reason}; not written"
    return "bad_input", result.report, f"{path}: {reason}"


def _warnings(path: Path, report: dict[str, Any]) -> list[str]:
    lines = []
    hidden_pages = [str(p["page"]) for p in report.get("pages", []) if p.get("hidden_text_unmatched")]
    if hidden_pages:
        # Text nobody was meant to see is a red flag for the reviewer; counts only, no text.
        lines.append(
            f"warning: {path}: text hidden from view was removed on page(s) {', '.join(hidden_pages)}"
        )
    if report.get("needs_review"):
        why = "; ".join(report.get("review_reasons") or ["flagged by the engine"])
        lines.append(f"warning: {path}: needs review: {why}")
    return lines


@cli.command("redact", help=_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--policy", "policy_path", required=True, metavar="POLICY", help="Policy file (YAML or JSON).")
@click.option("--recipient", required=True, metavar="NAME", help="Recipient whose rules apply.")
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Directory for the redacted files.")
@click.option("--report", "report_path", default=None, metavar="PATH", help="Write a JSON report here.")
def redact(
    files: tuple[str, ...], policy_path: str, recipient: str, out_dir: str, report_path: str | None
) -> None:
    from exchange.domain.detection import load_policy
    from exchange.domain.detection.planner import recipient_rules

    try:
        policy_text = Path(policy_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        fail(f"{policy_path}: cannot read the policy")
    try:
        policy = load_policy(policy_text)
        recipient_rules(policy, recipient)  # unknown names fail before the model loads
    except DomainError as exc:
        fail(exc.message)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{out_dir}: cannot create the output directory ({exc.strerror})")
    inputs = [Path(f) for f in files]
    names = [p.name for p in inputs]
    if len(set(names)) != len(names):
        fail("two inputs have the same file name; outputs would overwrite each other")

    from exchange.domain.detection import Detector, Labeller
    from exchange.domain.detection.planner import RecipientPlanner
    from exchange.settings import ConfigurationError, engine_limits_from_env, sandbox_limits_from_env

    try:
        limits, sandbox = engine_limits_from_env(), sandbox_limits_from_env()
    except ConfigurationError as exc:
        fail(str(exc))
    detector = Detector(policy)
    labeller = Labeller()
    records = []
    worst = 0
    for path in inputs:
        planner = RecipientPlanner(detector, policy, labeller)
        status, report, message = _redact_one(path, out, planner, recipient, limits=limits, sandbox=sandbox)
        labeller = planner.labeller  # the sandboxed run hands back the labels it added
        records.append({"file": path.name, "status": status, "report": report})
        if message:
            click.echo(f"error: {message}", err=True)
        if status == "ok":
            for line in _warnings(path, report):
                click.echo(line, err=True)
        if status == "leak":
            worst = EXIT_LEAK
        elif status == "bad_input" and worst != EXIT_LEAK:
            worst = EXIT_BAD_INPUT
    if report_path:
        Path(report_path).write_text(
            json.dumps({"recipient": recipient, "files": records}, indent=2, sort_keys=True), encoding="utf-8"
        )
    if worst:
        raise SystemExit(worst)
