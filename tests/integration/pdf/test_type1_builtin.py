"""Symbolic Type1 fonts are read through their own built-in encoding, or fail closed."""

from __future__ import annotations

import json
from pathlib import Path

import pikepdf

from exchange.domain.redaction.pdf import extract_pdf_text, redact_pdf
from tests.corpus.pdf import SECRET, producer_type1
from tests.integration.pdf.conftest import assert_absent, finder, kept_word_boxes, pdftotext


def test_builtin_encoding_is_read_from_the_font_program(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_type1.symbolic_builtin(corpus_dir)
    # Independent readers decode the built-in encoding; StandardEncoding would read "Lftusfm".
    assert SECRET in pdftotext(src).replace("\n", " ")
    assert SECRET in extract_pdf_text(src)[0]
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert result.ok, json.dumps(result.report)
    assert result.report["pages"][0]["redactions"] == {"CUSTOMER": 1}
    out = tmp_path / "out.pdf"
    assert result.data is not None
    out.write_bytes(result.data)
    assert_absent(SECRET, out, tmp_path)
    for word in ("turbine.", "Builtin", "encoded", "Order"):
        kept_word_boxes(src, out, word)


def test_unreadable_builtin_encoding_fails_closed(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_type1.symbolic_builtin(corpus_dir)
    broken = tmp_path / "broken.pdf"
    with pikepdf.open(src) as pdf:
        fd = pdf.pages[0].Resources.Font.F1.FontDescriptor
        fd.FontFile = pdf.make_stream(b"%!FontType1 no encoding here\n", Length1=28, Length2=0, Length3=0)
        pdf.save(broken)
    result = redact_pdf(broken, find=finder(SECRET), sensitive_values=[SECRET])
    assert not result.ok
    assert result.data is None
    assert "built-in encoding cannot be read" in result.report["pages"][0]["reasons"][0]
