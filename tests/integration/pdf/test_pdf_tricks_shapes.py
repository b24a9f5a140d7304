"""Lettering drawn as paths: read by OCR of the page's shape layer, never passed on unread.

Ghostscript's ``-dNoOutputFonts`` turns every glyph into a filled path: no
extractor reads the name, only a render does. The output is checked by
poppler's renderer and a separate tesseract process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pdf.engine import verify_output
from exchange.domain.redaction.pdf.images import OcrSettings, PixelReader
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.pdf_engine import PdfEngine
from exchange.domain.redaction.pdf.shapes import SHAPES_REASON
from tests.corpus.pdf import SECRET, producer_tricks
from tests.integration.pdf.conftest import finder, pdfium_text, pdftotext, rendered_ocr, shows

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=120)


@pytest.fixture(scope="module")
def outlines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return producer_tricks.ghostscript_outlines(tmp_path_factory.mktemp("outlines"))


def test_input_letters_the_name_only_in_paths(outlines: Path, tmp_path: Path) -> None:
    assert not shows(pdftotext(outlines), SECRET) and not shows(pdfium_text(outlines), SECRET)
    assert shows(rendered_ocr(outlines, tmp_path), SECRET)


def test_lettered_page_is_read_and_replaced_by_its_redacted_render(outlines: Path, tmp_path: Path) -> None:
    engine = PdfEngine()
    document = engine.read(outlines, LIMITS)
    # The detector is given what the shapes spell.
    assert any(unit.source == "ocr" and shows(unit.text, SECRET) for unit in document.units)
    assert document.facts["ocr"]["shape_layers"] == 1
    result = engine.redact(
        document, RecipientPlan("supplier", find=finder(SECRET), sensitive_values=[SECRET])
    )
    assert result.ok, result.report
    assert result.data is not None
    page = result.report["pages"][0]
    assert page["status"] == "rasterized" and page["reasons"] == [SHAPES_REASON]
    assert result.report["needs_review"]
    assert "shape_ocr" in result.report["verification"]["checks"]
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    seen = rendered_ocr(out, tmp_path)
    assert not shows(seen, SECRET)
    assert "turbine" in seen


def test_verifier_withholds_lettering_left_in_place(outlines: Path) -> None:
    with PixelReader(OcrSettings(languages="eng", workers=1)) as reader:
        leaks = verify_output(outlines.read_bytes(), [SECRET], {}, [], PdfLimits(), shapes=reader)
    assert [leak.kind for leak in leaks] == ["shape_text"]


def test_rules_and_boxes_are_not_rendered(tmp_path: Path) -> None:
    src = producer_tricks.ruled_table(tmp_path)
    engine = PdfEngine()
    document = engine.read(src, LIMITS)
    assert document.facts["ocr"]["shape_layers"] == 0
    result = engine.redact(
        document, RecipientPlan("supplier", find=finder(SECRET), sensitive_values=[SECRET])
    )
    assert result.ok, result.report
    assert result.report["pages"][0]["status"] == "ok"
    assert not result.report["needs_review"]
