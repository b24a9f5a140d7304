"""The PDF engine behind the registry: :func:`redact_pdf` in the common seam.

``read`` extracts each page's text exactly as :func:`redact_pdf` passes it
to ``find`` and reads every drawn image by OCR once (in parallel, kept on the
:class:`PdfSource` keyed by pixels); both become text units, so detection and
the applicant's findings see text in pictures. ``redact`` runs the surgical
(or rasterize) engine for one recipient with those OCR results and the plan's
images rule, and maps its report onto the common schema. See ``engine`` for
the redaction and verification invariants and ``images`` for pixels.

Invariant: OCR confidence under ``ocr_review_confidence``, images that could
not be read, and pages that had to be rendered are flagged for review; pages
rendered only because the applicant boxed them are not (the applicant chose
it), but a warning says they lost their text layer. The engine paints the
plan's manual boxes (``supports_boxes``; see ``engine`` and ``fallback``).
Fonts are checked against their rendered glyphs once, when read
(``textlayer``); the verdict is kept on :class:`PdfSource` and every
recipient's redaction renders the pages it distrusts, flagged for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    new_report,
)
from exchange.domain.redaction.pdf.engine import read_pdf, redact_pdf
from exchange.domain.redaction.pdf.fallback import MANUAL_REASON
from exchange.domain.redaction.pdf.images import OcrSettings, PixelReader
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.textlayer import DISTRUST_REASON, TextLayerCheck

PDF = "application/pdf"


def pdf_limits(limits: EngineLimits) -> PdfLimits:
    return PdfLimits(
        max_input_bytes=limits.max_input_bytes,
        max_pages=limits.max_pages,
        max_image_pixels=limits.max_image_pixels,
    )


@dataclass(slots=True)
class PdfSource(SourceDocument):
    """A read PDF: its limits and the OCR of every distinct image drawn in it."""

    limits: EngineLimits | None = None
    pixels: PixelReader | None = None
    #: fonts checked against the rendered pages when read (see ``textlayer``)
    text_layer: TextLayerCheck | None = None


class PdfEngine:
    format = "pdf"
    media_types = (PDF,)
    #: pages with manual boxes are rendered with the boxes painted, then verified
    supports_boxes = True

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        # PDF readers accept the header anywhere in the first KiB; so must we,
        # or a PDF with a prefix would be treated as text.
        return PDF if b"%PDF-" in head[:1024] else None

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        reader = PixelReader(OcrSettings.from_limits(limits))
        try:
            reading = read_pdf(source, pdf_limits(limits), reader)
        finally:
            reader.close()
        units = [TextUnit(text, number, "page") for number, text in enumerate(reading.pages, start=1)]
        for number, texts in enumerate(reading.image_texts, start=1):
            units += [TextUnit(text, number, "ocr") for text in texts if text.strip()]
        document = PdfSource(source, PDF, units, limits=limits, pixels=reader, text_layer=reading.text_layer)
        document.facts["limits"] = limits
        document.facts["ocr"] = reading.stats["ocr"]
        document.facts["text_layer"] = reading.stats["text_layer"]
        document.facts["page_count"] = len(reading.pages)
        return document

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        limits: EngineLimits = document.facts.get("limits", EngineLimits())
        reader = document.pixels if isinstance(document, PdfSource) else None
        text_layer = document.text_layer if isinstance(document, PdfSource) else None
        if reader is None:
            # A document read elsewhere: its images were not read yet; the reader reads them now.
            reader = PixelReader(OcrSettings.from_limits(limits))
        try:
            result = redact_pdf(
                document.path,
                find=plan.find,
                sensitive_values=plan.sensitive_values,
                mode=plan.mode,
                limits=pdf_limits(limits),
                pixels=reader,
                images=plan.images,
                manual=plan.boxes,
                text_layer=text_layer,
            )
        finally:
            reader.close()
        report: dict[str, Any] = {**new_report(self.format), **result.report}
        report["ok"] = result.ok
        report["ocr"] = dict(document.facts.get("ocr", report["ocr"]))
        _review(report, limits, plan.images)
        if not result.ok:
            report["withheld"] = _withheld_reason(result.report, bool(result.leaks))
        return RedactionResult(result.ok, result.data, report, PDF, "", result.leaks)


def _review(report: dict[str, Any], limits: EngineLimits, images: str) -> None:
    """Reasons the applicant should look at this output (no document text)."""
    reasons: list[str] = report["review_reasons"]
    warnings: list[str] = report["warnings"]
    ocr = report["ocr"]
    if ocr.get("low_confidence_images"):
        reasons.append(
            f"{ocr['low_confidence_images']} image(s) read by OCR with mean confidence under"
            f" {limits.ocr_review_confidence:g}"
        )
    if ocr.get("unreadable_images") and images == "redact":
        reasons.append(f"{ocr['unreadable_images']} image(s) could not be read and were replaced")
    rendered = [p for p in report["pages"] if p.get("status") == "rasterized"]
    forced = [p["page"] for p in rendered if set(p.get("reasons", ())) - {MANUAL_REASON}]
    lying = [p["page"] for p in rendered if DISTRUST_REASON in p.get("reasons", ())]
    if lying:
        reasons.append(
            f"page(s) {', '.join(map(str, lying))}: {DISTRUST_REASON} (a font's text differs from"
            " its glyphs); they were read by OCR instead"
        )
    if forced:
        reasons.append(
            f"page(s) {', '.join(map(str, forced))} could not be redacted in place and were"
            " replaced by redacted images (no selectable text)"
        )
    boxed = [p["page"] for p in rendered if p.get("manual_boxes") and p["page"] not in forced]
    if boxed:
        warnings.append(
            f"page(s) {', '.join(map(str, boxed))} with manual boxes were replaced by redacted"
            " images (no selectable text)"
        )
    if images == "keep":
        warnings.append("images were shared as drawn (policy images: keep): not redacted, not verified")
    elif images == "remove":
        warnings.append("every image was replaced by a placeholder (policy images: remove)")
    report["needs_review"] = bool(reasons)


def _withheld_reason(report: dict[str, Any], leaked: bool) -> str:
    if report.get("withheld"):
        return str(report["withheld"])
    unpainted = [
        leak["page"]
        for leak in report.get("verification", {}).get("leaks", [])
        if str(leak.get("kind", "")).endswith("manual_box")
    ]
    if unpainted:
        return f"manual box on page {unpainted[0]} is not fully redacted in the output"
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
