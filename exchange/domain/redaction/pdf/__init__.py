"""True PDF redaction and sanitisation (issue 4).

Public API::

    redact_pdf(src, *, find, sensitive_values, mode="surgical", limits=PdfLimits())
        -> PdfRedactionResult(ok, data, report, leaks)
    extract_pdf_text(src) -> list[str]        # the text ``find`` is called with

Modules: ``limits`` (bounded decoding), ``fonts`` (codes → text and widths),
``textmodel`` (content-stream interpreter), ``apply`` (glyph removal, boxes,
image repainting), ``sanitise`` (the document sanitisation profile),
``rasterize`` (burnt-in mode), ``shapes`` (lettering drawn as paths, read by
OCR), ``verify`` (fail-closed checks), ``engine``.
Pure domain code: no Flask, Celery or database imports.
"""

from exchange.domain.redaction.pdf.engine import PdfRedactionResult, extract_pdf_text, redact_pdf
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.verify import Leak

__all__ = ["Leak", "PdfLimits", "PdfRedactionResult", "extract_pdf_text", "redact_pdf"]
