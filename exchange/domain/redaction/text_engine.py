"""The plain-text engine: UTF-8 text in, the same text with spans replaced out.

Invariants: see :mod:`exchange.domain.redaction.text` (whole-span
replacement, fixed-width boxes, folded verification). The output is UTF-8
without a BOM; the whole file is one text unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    count_types,
    new_report,
)
from exchange.domain.redaction.text import decode_text, find_leaks, redact_text

TEXT = "text/plain"


class TextEngine:
    format = "text"
    media_types = (TEXT,)

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        if b"\x00" in head:
            return None
        sample = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is fine.
            if exc.start < len(sample) - 4:
                return None
        return TEXT

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        try:
            if source.stat().st_size > limits.max_input_bytes:
                raise UnsupportedFile(f"the text is larger than {limits.max_input_bytes // 2**20} MiB")
            data = source.read_bytes()
        except OSError as exc:
            raise UnsupportedFile("the file cannot be read") from exc
        return SourceDocument(source, TEXT, [TextUnit(decode_text(data), None, "text")])

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        text = document.units[0].text
        spans = plan.find(text)
        redacted = redact_text(text, spans)
        leaks = find_leaks(redacted, plan.sensitive_values)
        report = new_report(self.format)
        report["counts"] = count_types([s.entity_type for s in spans])
        report["verification"] = {
            "performed": True,
            "passed": not leaks,
            "checks": ["folded_text"],
            "leaks": [{"kind": "text", "value_index": plan.sensitive_values.index(v)} for v in leaks],
        }
        report["ok"] = not leaks
        if leaks:
            report["withheld"] = "verification found redacted content in the output"
            return RedactionResult(False, None, report, TEXT, "", leaks)
        return RedactionResult(True, redacted.encode("utf-8"), report, TEXT)
