"""Fonts whose text layer names other letters than the page shows.

The page shows the customer's name; pdftotext, pdfium and the engine's model
extract a letter substitution of it (see ``producer_lying``). The engine must
notice that the font's text disagrees with its pixels, render the page and
redact what OCR reads. Checked independently: poppler renders the OUTPUT and
the ``tesseract`` program reads it; on the input the same check reads the
name (so the check can fail), on the output it must not. Documents from honest
producers (reportlab, fpdf2, Ghostscript, LibreOffice; Latin and Chinese)
must not be rendered: their text layer stays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pdf import redact_pdf
from exchange.domain.redaction.pdf.images import OcrSettings, PixelReader
from exchange.domain.redaction.pdf.pdf_engine import PdfEngine
from tests.corpus.pdf import (
    SECRET,
    producer_cjk,
    producer_fpdf2,
    producer_ghostscript,
    producer_libreoffice,
    producer_lying,
    producer_reportlab,
)
from tests.corpus.pdf.producer_lying import HONEST_PAGE, LYING, encipher
from tests.integration.pdf.conftest import finder, pdftotext, rendered_ocr, shows

LATIN = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=120)
#: the engine's default languages, as used in production
DEFAULT = EngineLimits(ocr_workers=2, ocr_timeout=120)
REASON = "the text layer does not match what the page shows"


def _plan(*values: str, images: str = "redact") -> RecipientPlan:
    return RecipientPlan(
        "supplier",
        find=finder(*values),
        sensitive_values=list(values),
        images=images,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def lying(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lying")
    return {name: make(d) for name, make in LYING.items()}


@pytest.mark.parametrize("kind", sorted(LYING))
def test_the_corpus_lies(lying: dict[str, Path], kind: str, tmp_path: Path) -> None:
    """Extractors read the substitution, the page shows the name (poppler + tesseract)."""
    path = lying[kind]
    text = pdftotext(path)
    assert not shows(text, SECRET)
    assert shows(text, encipher(SECRET))
    assert shows(rendered_ocr(path, tmp_path, 1), SECRET)


@pytest.mark.parametrize("kind", sorted(LYING))
def test_a_lying_font_is_rendered_and_the_name_is_gone(
    lying: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    engine = PdfEngine()
    document = engine.read(lying[kind], LATIN)
    result = engine.redact(document, _plan(SECRET))
    assert result.ok, result.report
    assert result.data is not None
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    seen = rendered_ocr(out, tmp_path, 1)
    assert not shows(seen, SECRET), seen
    assert shows(seen, "turbine housings")  # the rest of the page is still there to read
    first, second = result.report["pages"]
    assert first["status"] == "rasterized"
    assert REASON in first["reasons"]
    assert second["status"] == "ok"  # the honest page keeps its text layer
    assert HONEST_PAGE in pdftotext(out).replace("\n", " ")
    assert result.report["text_layer"]["pages_distrusted"] == [1]
    assert result.report["needs_review"] is True
    assert any(REASON in reason for reason in result.report["review_reasons"])


def test_detection_sees_what_the_lying_page_shows(lying: dict[str, Path]) -> None:
    """The OCR of the page the font lies on is a text unit, so the applicant's review lists the name."""
    document = PdfEngine().read(lying["tounicode"], LATIN)
    page_text = " ".join(u.text for u in document.units if u.page == 1 and u.source == "page")
    ocr_text = " ".join(u.text for u in document.units if u.page == 1 and u.source == "ocr")
    assert not shows(page_text, SECRET)
    assert shows(ocr_text, SECRET)


def test_images_keep_still_reads_the_rendered_page(lying: dict[str, Path], tmp_path: Path) -> None:
    """``images: keep`` leaves the document's pictures unread, not a page rendered for its text."""
    engine = PdfEngine()
    result = engine.redact(engine.read(lying["cmap"], LATIN), _plan(SECRET, images="keep"))
    assert result.ok, result.report
    assert result.data is not None
    assert "rendered_page_ocr" in result.report["verification"]["checks"]
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    assert not shows(rendered_ocr(out, tmp_path, 1), SECRET)


def test_redact_pdf_checks_fonts_itself_when_not_read_first(lying: dict[str, Path], tmp_path: Path) -> None:
    with PixelReader(OcrSettings(languages="eng", workers=2, timeout=120)) as reader:
        result = redact_pdf(
            lying["differences"], find=finder(SECRET), sensitive_values=[SECRET], pixels=reader
        )
    assert result.ok, result.report
    assert result.data is not None
    assert result.report["pages"][0]["status"] == "rasterized"
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    assert not shows(rendered_ocr(out, tmp_path, 1), SECRET)


def test_a_text_layer_in_the_private_use_area_is_unmappable(tmp_path: Path) -> None:
    """No OCR needed: glyphs mapped to private-use code points are no text a detector reads."""
    path = producer_lying.private_use(tmp_path)
    engine = PdfEngine()
    result = engine.redact(engine.read(path, LATIN), _plan(SECRET))
    assert result.ok, result.report
    assert result.data is not None
    first = result.report["pages"][0]
    assert first["status"] == "rasterized"
    assert "private-use" in " ".join(first["reasons"])
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    assert not shows(rendered_ocr(out, tmp_path, 1), SECRET)


# -- honest producers are not rendered ---------------------------------------------------
#: producer -> (make, the name to remove, text that must stay)
_HONEST: dict[str, tuple[Callable[[Path], Path], str, tuple[str, ...]]] = {
    "reportlab": (producer_reportlab.simple, SECRET, ("turbine",)),
    "fpdf2": (producer_fpdf2.embedded_truetype, SECRET, ("turbine",)),
    "ghostscript": (producer_ghostscript.text, SECRET, ("turbine",)),
    "ghostscript_truetype": (producer_ghostscript.truetype, SECRET, ("turbine",)),
    "libreoffice": (lambda d: producer_libreoffice.convert_all(d)["everywhere"], SECRET, ("turbine",)),
    "reportlab_cid_gb": (
        lambda d: producer_cjk.reportlab_cid(d, "gb"),
        producer_cjk.CUSTOMER,
        producer_cjk.KEPT,
    ),
    "reportlab_cid_japan": (
        lambda d: producer_cjk.reportlab_cid(d, "japan"),
        producer_cjk.CUSTOMER_JA,
        ("品質証明書",),
    ),
    "reportlab_cid_korea": (
        lambda d: producer_cjk.reportlab_cid(d, "korea"),
        producer_cjk.CUSTOMER_KO,
        ("품질",),
    ),
    "libreoffice_cjk": (producer_cjk.libreoffice, producer_cjk.CUSTOMER, producer_cjk.KEPT),
}


@pytest.mark.parametrize("name", sorted(_HONEST))
def test_honest_producers_keep_their_text_layer(name: str, tmp_path: Path) -> None:
    make, value, kept = _HONEST[name]
    path = make(tmp_path)
    engine = PdfEngine()
    document = engine.read(path, DEFAULT)
    checked = document.facts["text_layer"]
    assert checked["fonts_checked"] >= 1, checked  # the check ran: these fonts were judged
    assert checked["pages_distrusted"] == [], checked
    # Names in CJK documents break over lines: let the stand-in detector match across.
    spaced = value if value == SECRET else " ".join(value.replace(" ", ""))
    plan = RecipientPlan("supplier", find=finder(spaced), sensitive_values=[value])
    result = engine.redact(document, plan)
    assert result.ok, result.report
    assert result.data is not None
    assert all(p["status"] == "ok" for p in result.report["pages"]), result.report["pages"]
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    text = pdftotext(out)
    for word in kept:
        assert word in text


def test_honest_line_beside_a_lying_font_is_judged_honest(lying: dict[str, Path]) -> None:
    """Only the lying font is distrusted; the Helvetica on the same page and the next is not."""
    document = PdfEngine().read(lying["tounicode"], LATIN)
    checked = document.facts["text_layer"]
    assert checked["fonts_distrusted"] == 1
    assert checked["fonts_checked"] >= 2
