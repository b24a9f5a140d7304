"""`exchange scan` — detect customer names, trade secrets and PII per a policy.

A thin adapter: read files and the policy, call the detection domain, print.
All inputs are read and validated before the model loads, so bad input fails
fast (exit 2, one ``error:`` line) and never prints partial results.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from exchange.cli.base import cli, domain_errors_exit, fail
from exchange.domain.detection.findings import Finding

_HELP = """Scan FILEs (UTF-8 text or PDF) for findings under a redaction POLICY.

\b
--json prints JSON Lines, one object per input file:
  {"file": "<path as given>", "findings": [{"entity_type", "start", "end",
   "text", "score", "recognizer", "decision", "reason", "explanation",
   "suggestion", ["term"]}]}
Offsets index the file's text decoded as UTF-8 (Python string indices).
For a PDF, each finding also has "page" (from 1) and its offsets index
that page's extracted text, as the redaction engine reads it.
With --recipient, "decision" is "redact" or "keep" for that recipient and
"reason" a sentence; without it both are objects keyed by recipient name.

Exit status 2 with one "error: ..." line for bad input (missing file,
non-UTF-8 text, invalid policy, unknown recipient).
"""


def _read_bytes(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        fail(f"{path}: no such file")
    try:
        return file.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")


def _read_pages(path: str) -> list[str] | None:
    """Page texts of a PDF, or None when the file is not a PDF."""
    data = _read_bytes(path)
    if b"%PDF-" not in data[:1024]:
        return None
    from exchange.domain.errors import DomainError
    from exchange.domain.redaction.pdf import extract_pdf_text

    try:
        return extract_pdf_text(data)
    except DomainError as exc:
        fail(f"{path}: {exc.message}")


def _read_text(path: str) -> str:
    data = _read_bytes(path)
    if b"\x00" in data:
        fail(f"{path}: binary file; scan accepts UTF-8 plain text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})")


def _cell(text: str, width: int) -> str:
    flat = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@cli.command("scan", help=_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--policy", "policy_path", required=True, metavar="POLICY", help="Policy file (YAML or JSON).")
@click.option("--recipient", default=None, metavar="NAME", help="Show decisions for one recipient.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one object per file.")
@domain_errors_exit
def scan(files: tuple[str, ...], policy_path: str, recipient: str | None, as_json: bool) -> None:
    from exchange.domain.detection import load_policy

    policy = load_policy(_read_text(policy_path))
    if recipient is not None and recipient not in policy.recipients:
        fail(f"unknown recipient '{recipient}' (policy has: {', '.join(sorted(policy.recipients))})")
    # Every file becomes one or more texts (a PDF: one per page); all are scanned in one batch.
    texts: list[str] = []
    owners: list[tuple[int, int | None]] = []
    for index, path in enumerate(files):
        pages = _read_pages(path)
        if pages is None:
            texts.append(_read_text(path))
            owners.append((index, None))
        else:
            texts.extend(pages)
            owners.extend((index, number) for number in range(1, len(pages) + 1))

    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.outputs import finding_to_dict

    per_file: list[list[tuple[int | None, Finding]]] = [[] for _ in files]
    for (index, page), found in zip(owners, Detector(policy).scan_many(texts), strict=True):
        per_file[index].extend((page, f) for f in found)
    for path, located in zip(files, per_file, strict=True):
        findings = [f for _, f in located]
        if as_json:
            rows = [
                {**finding_to_dict(f, recipient), **({"page": page} if page is not None else {})}
                for page, f in located
            ]
            record = {"file": path, "findings": rows}
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        click.echo(f"{path}: {len(findings)} finding(s)")
        if not findings:
            continue
        click.echo(f"  {'SPAN':>13}  {'TYPE':<16} {'SCORE':>5}  {'DECISION':<28} TEXT")
        for f in findings:
            decision: str
            if recipient is not None:
                d = f.decision_for(recipient)
                decision = d.action if d else "-"
            else:
                decision = ",".join(f"{name}={d.action}" for name, d in sorted(f.decisions.items()))
            flag = "?" if f.suggestion else " "
            click.echo(
                f"  {f.start:>6}-{f.end:<6}  {f.entity_type:<16} {f.score:>5.2f}{flag} {decision:<28} "
                f"{_cell(f.text, 60)}"
            )
