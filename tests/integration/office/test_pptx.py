"""PPTX end to end with the real detector; outputs read back by unzip-level scans, python-pptx
and LibreOffice Impress (PDF via pdftotext)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pptx
import pytest

from exchange.domain.detection.detector import Detector
from exchange.domain.detection.policy import Policy
from exchange.domain.redaction.base import RedactionResult
from exchange.domain.redaction.office.pptx import PPTX, PptxEngine
from exchange.domain.redaction.text import BOX
from tests.corpus import office as corpus
from tests.integration.office.conftest import assert_no_customer, redact, soffice_text, tesseract

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def pptx_file(office_dir: Path) -> Path:
    return corpus.make_pptx(office_dir / "deck.pptx")


@pytest.fixture(scope="session")
def results(pptx_file: Path, detector: Detector, policy: Policy) -> dict[str, RedactionResult]:
    return redact(PptxEngine(), pptx_file, detector, policy, ("supplier", "bureau"))


@pytest.fixture(scope="session")
def supplier_file(results: dict[str, RedactionResult], office_dir: Path) -> Path:
    result = results["supplier"]
    assert result.ok, result.report
    assert result.data is not None
    path = office_dir / "deck-supplier.pptx"
    path.write_bytes(result.data)
    return path


def test_engine_sniffs_pptx(pptx_file: Path) -> None:
    data = pptx_file.read_bytes()
    assert PptxEngine().sniff(data[:8192], io.BytesIO(data)) == PPTX


def test_no_part_holds_the_customer_in_any_case(results: dict[str, RedactionResult]) -> None:
    for result in results.values():
        assert result.ok, result.report
        assert result.data is not None
        assert_no_customer(result.data)
    assert "kestrel" not in repr(results["supplier"].report).casefold()


def test_slides_notes_masters_tables_and_comments(pptx_file: Path, supplier_file: Path) -> None:
    before, after = pptx.Presentation(str(pptx_file)), pptx.Presentation(str(supplier_file))
    assert len(after.slides) == len(before.slides) == 3
    first = after.slides[0]
    assert first.shapes.title.text == f"Order: {BOX}"
    assert [r.font.bold for r in first.shapes.title.text_frame.paragraphs[0].runs] == [True, None]
    assert first.notes_slide.notes_text_frame.text == f"Speaker: do not mention {BOX}"
    table = next(s for s in after.slides[1].shapes if s.has_table).table
    assert table.cell(0, 1).text == BOX
    assert table.cell(1, 1).text == corpus.KEPT
    assert after.slide_master.placeholders[0].text_frame.text == f"Master title of {BOX}"
    assert after.slide_layouts[5].placeholders[0].text_frame.text == f"Layout title of {BOX}"
    with zipfile.ZipFile(supplier_file) as archive:
        names = archive.namelist()
        authors = archive.read("ppt/commentAuthors.xml").decode()
        comment = archive.read("ppt/comments/comment1.xml").decode()
        chart = next(archive.read(n).decode() for n in names if n.startswith("ppt/charts/chart"))
    assert 'name="Author"' in authors
    assert f"Check with {BOX}" in comment
    assert not [n for n in names if "embeddings" in n]
    assert "externalData" not in chart
    assert BOX in chart


def test_hyperlink_naming_the_customer_is_unlinked(supplier_file: Path) -> None:
    deck = pptx.Presentation(str(supplier_file))
    box = next(s for s in deck.slides[1].shapes if s.has_text_frame and "Portal" in s.text_frame.text)
    run = box.text_frame.paragraphs[0].runs[0]
    assert run.text == f"Portal of {BOX}"
    assert run.hyperlink.address is None


def test_picture_is_redacted(results: dict[str, RedactionResult], office_dir: Path) -> None:
    data = results["supplier"].data
    assert data is not None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        media = [n for n in archive.namelist() if n.startswith("ppt/media/")]
        assert len(media) == 1
        picture = archive.read(media[0])
    assert "kestrel" not in tesseract(picture, office_dir, "deck-label.png").casefold()


def test_libreoffice_opens_the_output(supplier_file: Path) -> None:
    text = soffice_text(supplier_file, "pdf")
    assert "kestrel" not in text.casefold()
    assert f"{corpus.KEPT} lots" in text


def test_libreoffice_pptx(libreoffice_files: dict[str, Path], detector: Detector, policy: Policy) -> None:
    path = libreoffice_files["pptx"]
    source = pptx.Presentation(str(path))
    (result,) = redact(PptxEngine(), path, detector, policy, ("supplier",)).values()
    assert result.ok, result.report
    assert result.data is not None
    assert_no_customer(result.data)
    out = path.with_name("lo-supplier.pptx")
    out.write_bytes(result.data)
    redacted = pptx.Presentation(str(out))
    assert len(redacted.slides) == len(source.slides) == 2
    with zipfile.ZipFile(out) as archive:
        notes = [archive.read(n).decode() for n in archive.namelist() if n.startswith("ppt/notesSlides/n")]
    assert any(f"Notes on {BOX}" in n for n in notes)
