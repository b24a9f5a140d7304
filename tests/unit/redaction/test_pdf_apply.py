"""Glyph removal keeps the advance of what it removes; string redaction."""

from __future__ import annotations

import pikepdf

from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.pdf.apply import _cut, redact_string
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.textmodel import Interpreter


def _model(content: bytes):  # type: ignore[no-untyped-def]
    pdf = pikepdf.new()
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Courier
    )
    pdf.add_blank_page()
    page = pdf.pages[0]
    page.obj.Contents = pdf.make_stream(content)
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    return Interpreter(pdf, PdfLimits()).page_model(page.obj, 1)


def test_cut_replaces_glyphs_by_their_exact_advance() -> None:
    model = _model(b"BT /F1 10 Tf 2 Tc 3 Tw (ab cd) Tj ET")
    run = model.runs[0]
    items = _cut(run, b"ab cd", {1, 2})
    # Courier: 600 units; glyph b: 6 + 2 (Tc); space: 6 + 2 + 3 (Tw) = 19 pt -> -1900 at size 10.
    assert [bytes(i) if isinstance(i, pikepdf.String) else float(i) for i in items] == [b"a", -1900.0, b"cd"]


def test_page_text_joins_runs_with_spaces_and_newlines() -> None:
    model = _model(
        b"BT /F1 10 Tf 72 700 Td (Kes) Tj (trel) Tj 50 0 Td (Dynamics) Tj 0 -20 Td (next line) Tj ET"
    )
    assert model.text == "Kestrel Dynamics\nnext line"


def test_redact_string_uses_labels() -> None:
    def find(text: str) -> list[Redaction]:
        i = text.index("Kestrel")
        return [Redaction(i, i + 7, "CUSTOMER", "[C-1]"), Redaction(0, 2, "X", None)]

    assert redact_string("To Kestrel now", find)[0] == "[REDACTED] [C-1] now"
