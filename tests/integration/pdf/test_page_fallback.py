"""A page the surgical engine cannot edit is rendered, redacted as pixels and replaced.

The file is not failed: the page is reported ``rasterized`` with the reason,
keeps no text layer, and independent readers (poppler + tesseract, pdftotext,
pdfium) find none of the values; the other pages stay surgical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pdf.pdf_engine import PdfEngine
from tests.corpus.pdf import SECRET, producer_handmade, producer_hidden, producer_scans
from tests.corpus.pdf.producer_hidden import UNREAD_TEXT
from tests.corpus.pdf.producer_scans import CUSTOMER, PART
from tests.integration.pdf.conftest import finder, pdfium_text, pdftotext, rendered_ocr, shows

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=120)


@pytest.fixture(scope="session")
def widthless(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return producer_scans.widthless_font(tmp_path_factory.mktemp("fallback"))


def _plan(*values: str, mode: str = "surgical") -> RecipientPlan:
    return RecipientPlan("supplier", find=finder(*values), sensitive_values=list(values), mode=mode)


@pytest.mark.parametrize("mode", ["surgical", "rasterize"])
def test_a_font_without_widths_rasterizes_only_its_page(widthless: Path, mode: str, tmp_path: Path) -> None:
    engine = PdfEngine()
    result = engine.redact(engine.read(widthless, LIMITS), _plan(CUSTOMER, PART, mode=mode))
    assert result.ok, result.report
    assert result.data is not None
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    first, second = result.report["pages"]
    assert first["status"] == "rasterized"
    assert "no reliable widths" in first["reasons"][0]
    assert first["redactions"]["CUSTOMER"] >= 2  # pdfium's text and the OCR of the render
    assert second["status"] == "ok"
    assert result.report["needs_review"] is True
    assert "replaced by redacted images" in " ".join(result.report["review_reasons"])
    text_pages = pdftotext(out).split("\f")
    assert text_pages[0].strip() == ""  # no text layer on the rendered page
    if mode == "surgical":
        assert "Second page" in text_pages[1]
    rendered = rendered_ocr(out, tmp_path, 1)
    assert "turbine" in rendered and "Order for" in rendered
    for value in (CUSTOMER, PART):
        assert not shows(rendered, value), value
        assert not shows(pdftotext(out), value) and not shows(pdfium_text(out), value)
    assert not shows(rendered_ocr(out, tmp_path, 2), CUSTOMER)


def test_unmappable_glyphs_no_longer_fail_the_file(tmp_path: Path) -> None:
    src = producer_handmade.unmappable(tmp_path)
    engine = PdfEngine()
    result = engine.redact(engine.read(src, LIMITS), _plan(SECRET))
    assert result.ok and result.data is not None
    (page,) = result.report["pages"]
    assert page["status"] == "rasterized"
    assert "cannot be mapped" in page["reasons"][0]
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    assert "turbine" in rendered_ocr(out, tmp_path, 1)


@pytest.mark.parametrize("trick", sorted(UNREAD_TEXT))
def test_text_no_extractor_reads_still_fails_closed(trick: str, tmp_path: Path) -> None:
    # Text in pattern cells or soft-mask groups: OCR would be its only reader, so no fallback.
    src = producer_hidden.trick_pages(tmp_path, {trick: UNREAD_TEXT[trick]}, trick)
    engine = PdfEngine()
    result = engine.redact(engine.read(src, LIMITS), _plan(SECRET))
    assert not result.ok and result.data is None
    assert result.report["pages"][0]["status"] == "failed"
    assert "draws text" in result.report["withheld"]


def test_an_image_in_a_pattern_cell_is_read_through_the_fallback(tmp_path: Path) -> None:
    src = producer_scans.pattern_image(tmp_path)
    before = rendered_ocr(src, tmp_path, 1)
    assert shows(before, CUSTOMER)  # the pattern really shows the name
    engine = PdfEngine()
    result = engine.redact(engine.read(src, LIMITS), _plan(CUSTOMER))
    assert result.ok and result.data is not None
    (page,) = result.report["pages"]
    assert page["status"] == "rasterized"
    assert page["reasons"] == ["a tiling pattern paints an image"]
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    after = rendered_ocr(out, tmp_path, 1)
    assert "Customer" in after and "patterned label" in after
    assert not shows(after, CUSTOMER)


def test_a_rendered_page_keeps_the_remove_rule(tmp_path: Path) -> None:
    src = producer_scans.widthless_font(tmp_path, photo=True)
    assert "Crate label" in rendered_ocr(src, tmp_path, 1)
    engine = PdfEngine()
    plan = _plan(CUSTOMER, PART)
    plan.images = "remove"
    result = engine.redact(engine.read(src, LIMITS), plan)
    assert result.ok and result.data is not None
    assert result.report["pages"][0]["status"] == "rasterized"
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    after = rendered_ocr(out, tmp_path, 1)
    assert "turbine" in after and "Crate" not in after and "7731" not in after
