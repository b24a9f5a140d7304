"""The PDF engine behind the registry: :func:`redact_pdf` in the common seam.

``read`` extracts each page's text exactly as :func:`redact_pdf` passes it
to ``find``; ``redact`` runs the surgical (or rasterize) engine for one
recipient and maps its report onto the common schema. See ``engine`` for the
redaction and verification invariants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    new_report,
)
from exchange.domain.redaction.pdf.engine import extract_pdf_text, redact_pdf
from exchange.domain.redaction.pdf.limits import PdfLimits

PDF = "application/pdf"


def pdf_limits(limits: EngineLimits) -> PdfLimits:
    return PdfLimits(
        max_input_bytes=limits.max_input_bytes,
        max_pages=limits.max_pages,
        max_image_pixels=limits.max_image_pixels,
    )


class PdfEngine:
    format = "pdf"
    media_types = (PDF,)

    def sniff(self, head: bytes) -> str | None:
        # PDF readers accept the header anywhere in the first KiB; so must we,
        # or a PDF with a prefix would be treated as text.
        return PDF if b"%PDF-" in head[:1024] else None

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        pages = extract_pdf_text(source, pdf_limits(limits))
        units = [TextUnit(text, number, "page") for number, text in enumerate(pages, start=1)]
        document = SourceDocument(source, PDF, units)
        document.facts["limits"] = limits
        return document

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        limits: EngineLimits = document.facts.get("limits", EngineLimits())
        result = redact_pdf(
            document.path,
            find=plan.find,
            sensitive_values=plan.sensitive_values,
            mode=plan.mode,
            limits=pdf_limits(limits),
        )
        report: dict[str, Any] = {**new_report(self.format), **result.report}
        report["ok"] = result.ok
        if not result.ok:
            report["withheld"] = _withheld_reason(result.report, bool(result.leaks))
        return RedactionResult(result.ok, result.data, report, PDF, "", result.leaks)


def _withheld_reason(report: dict[str, Any], leaked: bool) -> str:
    if leaked:
        pages = sorted(
            {leak["page"] for leak in report.get("verification", {}).get("leaks", []) if leak.get("page")}
        )
        where = f" on page(s) {', '.join(map(str, pages))}" if pages else ""
        return f"verification found redacted content{where}"
    failed = [p for p in report.get("pages", []) if p.get("status") == "failed"]
    if failed:
        first = failed[0]
        return f"page {first['page']}: " + "; ".join(first.get("reasons", ["cannot be redacted"]))
    return "the file could not be redacted"
