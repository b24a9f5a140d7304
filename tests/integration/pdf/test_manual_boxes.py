"""The applicant's manual boxes on PDF pages: everything under a box is gone, the rest stays.

Inputs come from independent producers (reportlab, LibreOffice, img2pdf) and
one page is turned by /Rotate. Boxes are placed the way the applicant places
them, on the page as displayed: a word is located on a poppler render
(``pdftoppm``) by Tesseract, or a coloured rectangle by its pixels, and turned
into fractions of that render. Every check reads the output with a tool other
than the engine: ``pdftotext`` and pypdfium2 for text, ``pdftoppm`` for the
pixels of the box (all near black), ``tesseract`` for what a reader sees,
pikepdf for annotations.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.review import MANUAL, ManualBox, build_review, parse_box
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.pdf.pdf_engine import PDF, PdfEngine
from exchange.domain.redaction.pipeline import redact_document
from tests.corpus.office import soffice_convert
from tests.corpus.pdf import producer_scans
from tests.integration.pdf.conftest import pdfium_text, pdftotext, shows

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=120)
CUSTOMER = "Kestrel Dynamics"
POLICY = f"""
version: 1
name: manual boxes
terms:
  customers: ["{CUSTOMER}"]
recipients:
  supplier: {{redact: [CUSTOMER]}}
  bureau: {{redact: [CUSTOMER]}}
"""
#: a pixel of a box region is "painted" when no channel is lighter than this (0-255)
NEAR_BLACK = 60
#: resolution of the checking renders (not the engine's)
DPI = 96


class _NoNer:
    """No NER model: the policy's declared terms are all these tests need detected."""

    def analyze_many(self, texts: Any, entities: Any) -> list[list[Any]]:
        return [[] for _ in texts]


def _planner(*boxes: ManualBox, recipients: tuple[str, ...] = ("supplier",)) -> RecipientPlanner:
    policy = load_policy(POLICY)
    review = build_review([], [(list(recipients), box) for box in boxes])
    return RecipientPlanner(Detector(policy, engine=_NoNer()), policy, review=review)  # type: ignore[arg-type]


def _redact(src: Path, *boxes: ManualBox, recipient: str = "supplier") -> RedactionResult:
    engine = PdfEngine()
    document = engine.read(src, LIMITS)
    planner = _planner(*boxes)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan(recipient))


def _written(result: RedactionResult, tmp: Path) -> Path:
    assert result.ok, json.dumps(result.report)[:2000]
    assert result.data is not None
    out = tmp / "out.pdf"
    out.write_bytes(result.data)
    return out


def _render(path: Path, page: int, tmp: Path, dpi: int = DPI) -> Image.Image:
    """Page ``page`` as poppler shows it (its /Rotate and crop box applied)."""
    prefix = tmp / f"{path.stem}-p{page}-{dpi}"
    pages = ["-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", *pages, str(path), str(prefix)], check=True, timeout=120
    )
    with Image.open(f"{prefix}.png") as image:
        return image.convert("RGB")


def _tesseract(image: Image.Image, tmp: Path, *extra: str) -> str:
    path = tmp / "ocr.png"
    image.save(path)
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng", *extra], check=True, capture_output=True, timeout=120
    ).stdout.decode()


def _word_box(image: Image.Image, word: str, tmp: Path, pad: int = 4) -> list[float]:
    """Fractions of ``image`` around the first word Tesseract reads as ``word``."""
    tsv = _tesseract(image, tmp, "tsv")
    for line in tsv.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) == 12 and cells[11].strip().strip(".,;:") == word:
            left, top, width, height = map(int, cells[6:10])
            return [
                max(0.0, (left - pad) / image.width),
                max(0.0, (top - pad) / image.height),
                min(1.0, (left + width + pad) / image.width),
                min(1.0, (top + height + pad) / image.height),
            ]
    raise AssertionError(f"{word!r} not read on the source render: {tsv[:400]!r}")


def _colour_box(image: Image.Image, colour: tuple[int, int, int], pad: int = 2) -> list[float]:
    """Fractions of ``image`` around every pixel of (about) ``colour``."""
    near = (np.abs(np.asarray(image, dtype=np.int16) - np.array(colour)) < 40).all(axis=2)
    ys, xs = np.nonzero(near)
    assert xs.size, "the coloured rectangle is not on the source render"
    return [
        max(0.0, (int(xs.min()) - pad) / image.width),
        max(0.0, (int(ys.min()) - pad) / image.height),
        min(1.0, (int(xs.max()) + 1 + pad) / image.width),
        min(1.0, (int(ys.max()) + 1 + pad) / image.height),
    ]


def _assert_painted(image: Image.Image, box: ManualBox, edge: int = 1) -> None:
    """Every pixel of ``box`` on ``image`` (less ``edge`` pixels of antialiasing) is near black."""
    left, top, right, bottom = box.pixels(image.width, image.height)
    region = image.crop((left + edge, top + edge, right - edge, bottom - edge))
    assert region.width > 0 and region.height > 0
    brightest = max(hi for _, hi in region.getextrema())  # type: ignore[misc]
    assert brightest <= NEAR_BLACK, f"box region not painted (brightest channel {brightest})"


# -- producers ---------------------------------------------------------------


def _reportlab(tmp: Path, name: str = "rl.pdf", pages: int = 2) -> Path:
    path = tmp / name
    c = canvas.Canvas(str(path))
    for n in range(pages):
        c.setFont("Helvetica", 14)
        c.drawString(72, 700, f"Order placed by {CUSTOMER} GmbH for the turbine.")
        c.drawString(72, 670, "Ship the magnet rotor to Bremen in May.")
        c.drawString(72, 640, f"Page {n + 1} closes with the gearbox.")
        # A link over the word the applicant will box: annotations under a box go too.
        c.linkURL("https://example.org/bremen", (230, 665, 290, 685))
        c.showPage()
    c.save()
    return path


def _rotated_rectangle(tmp: Path, rotation: int) -> Path:
    """A red filled rectangle with a word on it, and a line of text away from it; /Rotate set."""
    path = tmp / f"rot{rotation}.pdf"
    c = canvas.Canvas(str(path))
    c.setFillColorRGB(1, 0, 0)
    c.rect(300, 500, 160, 60, fill=1, stroke=0)
    c.setFillColorRGB(0, 0, 0)
    c.setFont("Helvetica", 16)
    c.drawString(320, 522, "Zanzibar")
    c.drawString(72, 300, "The turbine stays legible here.")
    c.showPage()
    c.save()
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.Rotate = rotation
        pdf.save(path)
    return path


def _libreoffice(tmp: Path) -> Path:
    text = tmp / "lo_note.txt"
    text.write_text(
        f"Order placed by {CUSTOMER} GmbH for the turbine.\n\n"
        "Ship the magnet rotor to Bremen in May.\n\n"
        "The gearbox follows in June.\n",
        encoding="utf-8",
    )
    (pdf,) = soffice_convert([text], "pdf", tmp / "lo")
    with pikepdf.open(pdf) as opened:
        assert "LibreOffice" in str(opened.docinfo.get("/Producer", ""))
    return pdf


# -- tests -------------------------------------------------------------------


def test_reportlab_box_takes_the_word_its_link_and_nothing_else(tmp_path: Path) -> None:
    src = _reportlab(tmp_path)
    source_page = _render(src, 1, tmp_path)
    box = parse_box(1, _word_box(source_page, "Bremen", tmp_path))
    result = _redact(src, box)
    out = _written(result, tmp_path)

    first, second = result.report["pages"]
    assert first["manual_boxes"] == 1 and first["redactions"][MANUAL] == 1
    assert "manual_boxes" not in second
    assert result.report["counts"][MANUAL] == 1
    assert result.report["counts"]["CUSTOMER"] == 2  # detection still ran on both pages
    assert "manual_boxes" in result.report["verification"]["checks"]
    assert not result.report["needs_review"]  # the applicant chose the box; nothing to re-check

    # Text: the boxed word is gone from page 1 for both extractors; page 2 keeps it.
    pages = pdftotext(out).split("\f")
    assert not shows(pages[0], "Bremen")
    assert shows(pages[1], "Bremen") and shows(pages[1], "gearbox")
    doc_text = pdfium_text(out)
    assert doc_text.count("Bremen") == 1
    assert not shows(doc_text, CUSTOMER) and not shows(pdftotext(out), CUSTOMER)
    # Pixels: the box is solid on poppler's render; words outside it are still legible.
    shown = _render(out, 1, tmp_path)
    _assert_painted(shown, box)
    read = _tesseract(_render(out, 1, tmp_path, dpi=150), tmp_path)
    assert not shows(read, "Bremen")
    assert "turbine" in read and "magnet rotor" in read and "gearbox" in read
    assert not shows(read, CUSTOMER)
    # Annotations: the link over the box went with the page; page 2's stays.
    with pikepdf.open(out) as pdf:
        assert "/Annots" not in pdf.pages[0].obj
        assert len(pdf.pages[1].obj.get("/Annots", [])) == 1


def test_libreoffice_box(tmp_path: Path) -> None:
    src = _libreoffice(tmp_path)
    box = parse_box(1, _word_box(_render(src, 1, tmp_path), "gearbox", tmp_path))
    out = _written(_redact(src, box), tmp_path)
    for text in (pdftotext(out), pdfium_text(out)):
        assert "gearbox" not in text
    _assert_painted(_render(out, 1, tmp_path), box)
    read = _tesseract(_render(out, 1, tmp_path, dpi=150), tmp_path)
    assert "gearbox" not in read
    assert "turbine" in read and "Bremen" in read
    assert not shows(read, CUSTOMER)


def test_scanned_page_box_paints_the_image_pixels(tmp_path: Path) -> None:
    src = producer_scans.img2pdf_scan(tmp_path, pages=2)
    source_page = _render(src, 2, tmp_path, dpi=150)
    assert "Purchase" in _tesseract(source_page, tmp_path)
    box = parse_box(2, _word_box(source_page, "Purchase", tmp_path))
    result = _redact(src, box)
    out = _written(result, tmp_path)
    assert [p.get("manual_boxes", 0) for p in result.report["pages"]] == [0, 1]
    _assert_painted(_render(out, 2, tmp_path), box)
    second = _tesseract(_render(out, 2, tmp_path, dpi=150), tmp_path)
    assert "Purchase" not in second
    assert "turbine" in second and "housing" in second
    assert "Purchase" in _tesseract(_render(out, 1, tmp_path, dpi=150), tmp_path)  # not boxed there
    for page in (1, 2):
        assert not shows(_tesseract(_render(out, page, tmp_path, dpi=150), tmp_path), CUSTOMER)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_box_on_a_rotated_page_covers_what_the_applicant_saw(rotation: int, tmp_path: Path) -> None:
    src = _rotated_rectangle(tmp_path, rotation)
    source_page = _render(src, 1, tmp_path)
    assert (source_page.width > source_page.height) == (rotation in (90, 270))
    box = parse_box(1, _colour_box(source_page, (255, 0, 0)))
    result = _redact(src, box)
    out = _written(result, tmp_path)
    assert result.report["pages"][0]["manual_boxes"] == 1
    shown = _render(out, 1, tmp_path)
    assert shown.size == source_page.size  # the page keeps its rotation and size
    _assert_painted(shown, box)
    # Vector paint under the box is gone, not covered: no red pixel anywhere on the page.
    rgb = np.asarray(shown)
    assert not ((rgb[..., 0] > 150) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)).any()
    for text in (pdftotext(out), pdfium_text(out)):
        assert "Zanzibar" not in text
    if rotation in (0, 90):  # Tesseract reads upright and quarter-turned text, not upside down
        assert "turbine" in _tesseract(_render(out, 1, tmp_path, dpi=150), tmp_path)


def test_box_for_one_recipient_leaves_the_other_unboxed(tmp_path: Path) -> None:
    src = _reportlab(tmp_path, pages=1)
    box = parse_box(1, _word_box(_render(src, 1, tmp_path), "Bremen", tmp_path))
    engine = PdfEngine()
    document = engine.read(src, LIMITS)
    planner = _planner(box, recipients=("supplier",))
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    bureau = engine.redact(document, planner.plan("bureau"))
    out = _written(bureau, tmp_path)
    assert "Bremen" in pdftotext(out)
    assert MANUAL not in bureau.report["counts"]


def test_box_beyond_the_last_page_withholds_the_file(tmp_path: Path) -> None:
    src = _reportlab(tmp_path, pages=2)
    result = _redact(src, parse_box(3, [0.1, 0.1, 0.4, 0.2]))
    assert not result.ok and result.data is None
    assert result.report["withheld"] == "manual box on page 3, but the file has 2 pages"


def test_the_pipeline_paints_boxes_in_its_sandbox(tmp_path: Path) -> None:
    src = _reportlab(tmp_path, pages=1)
    box = parse_box(1, _word_box(_render(src, 1, tmp_path), "Bremen", tmp_path))
    planner = _planner(box, recipients=("supplier", "bureau"))
    outcome = redact_document(src, PDF, planner, ["supplier", "bureau"], LIMITS)
    for recipient in ("supplier", "bureau"):
        result = outcome.results[recipient]
        out = _written(result, tmp_path)
        assert "Bremen" not in pdftotext(out)
        _assert_painted(_render(out, 1, tmp_path), box)
        assert result.report["counts"][MANUAL] == 1
