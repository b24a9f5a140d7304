"""`exchange redact` — redact files for one recipient and verify them.

A thin adapter: it reads the policy and the inputs, builds the ``find``
callable from the detection engine and calls the same redaction engines the
workers run (``exchange.domain.redaction.pdf``; plain text through
``exchange.domain.redaction.text``). It never writes an output that did not
pass verification, and it prints no secret values: per-input errors are one
line each, and the optional report is the engines' secret-free JSON.

Text hidden from view that matched no finding (see the PDF engine) is
removed and reported as one ``warning:`` line per file, with page numbers.

Exit status: 0 when every input was redacted and verified; 2 when an input
could not be read or is not supported (the others are still written); 3 when
verification found a leak in any output (that file is not written). 3 wins
over 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from exchange.cli.base import EXIT_BAD_INPUT, EXIT_LEAK, cli, fail
from exchange.domain.errors import DomainError

_HELP = """Redact FILEs (PDF or UTF-8 text) for recipient NAME under POLICY.

\b
Writes DIR/<same file name> for every input that was redacted and passed
verification. --report PATH writes a JSON report (no secret values).
Exit 0: all done; 2: some input unreadable or unsupported (one line each on
stderr); 3: verification found a leak (that output is not written).
"""


class _DocumentFinder:
    """``find`` for one document: detection results cached per text, values collected.

    ``values`` is the list handed to the engine as ``sensitive_values``; the
    engine reads it only when verifying, after every ``find`` call, so values
    found in bookmarks or form fields are verified too.
    """

    def __init__(self, detector: Any, policy: Any, recipient: str, labeller: Any) -> None:
        self.detector = detector
        self.policy = policy
        self.recipient = recipient
        self.labeller = labeller
        self.cache: dict[str, list[Any]] = {}
        self.values: list[str] = []

    def __call__(self, text: str) -> Sequence[Any]:
        from exchange.domain.detection import redactions_for, sensitive_values

        cached = self.cache.get(text)
        if cached is not None:
            return cached
        findings = self.detector.scan(text)
        spans = redactions_for(findings, self.recipient, self.policy, self.labeller)
        for value in sensitive_values(findings, self.recipient, self.policy):
            if value not in self.values:
                self.values.append(value)
        self.cache[text] = spans
        return spans


def _redact_one(
    path: Path, out_dir: Path, make_finder: Callable[[], _DocumentFinder], mode: str
) -> tuple[str, dict[str, Any], str | None]:
    """Returns (status, report, message); status is "ok", "bad_input" or "leak"."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return "bad_input", {}, f"{path}: cannot read ({exc.strerror})"
    finder = make_finder()
    try:
        if b"%PDF-" in data[:1024]:
            from exchange.domain.redaction.pdf import extract_pdf_text, redact_pdf

            for text in extract_pdf_text(data):
                finder(text)
            result = redact_pdf(data, find=finder, sensitive_values=finder.values, mode=mode)
            if result.ok and result.data is not None:
                (out_dir / path.name).write_bytes(result.data)
                return "ok", result.report, None
            if result.leaks:
                pages = sorted({leak.page for leak in result.leaks if leak.page is not None})
                where = f" on page(s) {', '.join(map(str, pages))}" if pages else ""
                return (
                    "leak",
                    result.report,
                    f"{path}: verification found redacted content{where}; not written",
                )
            failed = [p for p in result.report.get("pages", []) if p.get("status") == "failed"]
            if failed:
                first = failed[0]
                reason = "; ".join(first.get("reasons", ["cannot be redacted"]))
                return "bad_input", result.report, f"{path}: page {first['page']}: {reason}"
            return "bad_input", result.report, f"{path}: could not be redacted"
        try:
            from exchange.domain.redaction import text as text_engine
        except ImportError:
            return "bad_input", {}, f"{path}: not a PDF"
        content = text_engine.decode_text(data)
        redacted = text_engine.redact_text(content, finder(content))
        report: dict[str, Any] = {"format": "text", "verification": {"performed": True}}
        leaked = bool(text_engine.find_leaks(redacted, finder.values))
    except DomainError as exc:
        return "bad_input", {}, f"{path}: {exc.message}"
    report["verification"]["passed"] = not leaked
    if leaked:
        return "leak", report, f"{path}: verification found redacted content; not written"
    (out_dir / path.name).write_text(redacted, encoding="utf-8")
    return "ok", report, None


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

    try:
        policy_text = Path(policy_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        fail(f"{policy_path}: cannot read the policy")
    try:
        policy = load_policy(policy_text)
        rpolicy = policy.recipient(recipient)
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

    detector = Detector(policy)
    labeller = Labeller()

    def make_finder() -> _DocumentFinder:
        return _DocumentFinder(detector, policy, recipient, labeller)

    records = []
    worst = 0
    for path in inputs:
        status, report, message = _redact_one(path, out, make_finder, rpolicy.mode)
        records.append({"file": path.name, "status": status, "report": report})
        if message:
            click.echo(f"error: {message}", err=True)
        hidden_pages = [str(p["page"]) for p in report.get("pages", []) if p.get("hidden_text_unmatched")]
        if status == "ok" and hidden_pages:
            # Text nobody was meant to see is a red flag for the reviewer; counts only, no text.
            click.echo(
                f"warning: {path}: text hidden from view was removed on page(s) {', '.join(hidden_pages)}",
                err=True,
            )
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
