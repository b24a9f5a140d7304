"""`exchange scan` — detect customer names, trade secrets and PII per a policy.

A thin adapter: read files and the policy, call the detection domain, print.
All inputs are read and validated before the model loads, so bad input fails
fast (exit 2, one ``error:`` line) and never prints partial results.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click

from exchange.cli.base import cli, domain_errors_exit, fail

_HELP = """Scan FILEs (PDF, images, Office, CSV/text, video) for findings under a redaction POLICY.

\b
--json prints JSON Lines, one object per input file:
  {"file": "<path as given>", "findings": [{"entity_type", "start", "end",
   "text", "score", "recognizer", "decision", "reason", "explanation",
   "suggestion", ["term"]}]}
Offsets index the file's text as decoded (UTF-8/16, GB18030, Latin-1 as
detected; Python string indices).
For a PDF page, an image, a TIFF frame or a video sample, each finding
also has "page" (from 1) and its offsets index that page's text as the
redaction engine reads it; "source" says where the text was read ("text", "page", "ocr", ...).
Images, scans and video frames are read with OCR (EXCHANGE_OCR_LANGUAGES,
default eng+chi_sim).
With --recipient, "decision" is "redact" or "keep" for that recipient and
"reason" a sentence; without it both are objects keyed by recipient name.

Exit status 2 with one "error: ..." line for bad input (missing file, a
type the content does not match, an unreadable or hostile file, invalid
policy, unknown recipient).
"""


def _read_bytes(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        fail(f"{path}: no such file")
    try:
        return file.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")


def _read_text(path: str) -> str:
    data = _read_bytes(path)
    if b"\x00" in data:
        fail(f"{path}: binary file; a policy is UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})")


def _media_type(path: str) -> str:
    """The engine's media type for ``path``, decided by content; bad input exits 2 here."""
    from exchange.domain.errors import DomainError
    from exchange.domain.filetypes import sniff_media_type

    data = _read_bytes(path)
    try:
        return sniff_media_type(data[:8192], Path(path).name, io.BytesIO(data))
    except DomainError as exc:
        message = exc.message.removeprefix(Path(path).name + ": ")
        if "not UTF-8" in message:
            message = "not UTF-8 text and no supported format was recognised"
        fail(f"{path}: {message}")


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
    from exchange.domain.detection.planner import recipient_rules

    policy = load_policy(_read_text(policy_path))
    if recipient is not None:
        recipient_rules(policy, recipient)
    # Every input is sniffed before the model loads, so bad input fails fast.
    media_types = [_media_type(path) for path in files]

    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.planner import RecipientPlanner
    from exchange.domain.errors import DomainError
    from exchange.domain.redaction.pipeline import located_findings, read_document
    from exchange.settings import ConfigurationError, engine_limits_from_env, sandbox_limits_from_env

    try:
        limits, sandbox = engine_limits_from_env(), sandbox_limits_from_env()
    except ConfigurationError as exc:
        fail(str(exc))
    detector = Detector(policy)
    for path, media_type in zip(files, media_types, strict=True):
        planner = RecipientPlanner(detector, policy)
        try:
            read_document(Path(path), media_type, planner, limits, sandbox=sandbox)
        except DomainError as exc:
            fail(f"{path}: {exc.message}")
        rows = located_findings(planner, recipient)
        for row in rows:
            if row["page"] is None:
                del row["page"]
        if as_json:
            click.echo(json.dumps({"file": path, "findings": rows}, ensure_ascii=False))
            continue
        _print_table(path, rows, recipient)


def _print_table(path: str, rows: list[dict[str, Any]], recipient: str | None) -> None:
    click.echo(f"{path}: {len(rows)} finding(s)")
    if not rows:
        return
    click.echo(f"  {'SPAN':>13}  {'TYPE':<16} {'SCORE':>5}  {'DECISION':<28} TEXT")
    for row in rows:
        decision = row["decision"]
        if recipient is None:
            decision = ",".join(f"{name}={action}" for name, action in sorted(decision.items()))
        where = f"p{row['page']} " if row.get("page") else ""
        flag = "?" if row["suggestion"] else " "
        click.echo(
            f"  {where}{row['start']:>6}-{row['end']:<6}  {row['entity_type']:<16} "
            f"{row['score']:>5.2f}{flag} {decision or '-':<28} {_cell(row['text'], 60)}"
        )
