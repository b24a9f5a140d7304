"""Page previews rendered from files made by independent producers, checked against independent readers.

Marks (where a finding's text sits, as fractions of the page) are compared
with poppler's ``pdftotext -bbox`` word boxes; page sizes, rotation and EXIF
orientation with the PNGs themselves.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.redaction.preview import PreviewLimits, Rendering, Term, ViewSource, render_views
from tests.corpus.images import camera_exif, label, tiff_pages
from tests.corpus.office import soffice_convert

pytestmark = pytest.mark.integration

CUSTOMER = Term("Kestrel Dynamics GmbH", "CUSTOMER")
LIMITS = PreviewLimits(ocr_languages="eng")


def reportlab_pdf(path: Path, pages: int = 2, rotate_second: bool = True) -> Path:
    """A4 pages drawn by reportlab; the second turned by /Rotate 90 (set with pikepdf, box unchanged)."""
    import pikepdf
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    drawn = io.BytesIO()
    pdf = canvas.Canvas(drawn, pagesize=A4)
    for index in range(pages):
        pdf.setFont("Helvetica", 14)
        pdf.drawString(72, 760, f"Page {index + 1}: order for Kestrel Dynamics GmbH in Stuttgart")
        pdf.drawString(72, 400, "Quantity: 2,000 arc segments")
        pdf.showPage()
    pdf.save()
    drawn.seek(0)
    with pikepdf.open(drawn) as document:
        if rotate_second:
            document.pages[1].Rotate = 90
        document.save(path)
    return path


def render_one(path: Path, media_type: str, workdir: Path, limits: PreviewLimits = LIMITS) -> Rendering:
    rendered = render_views([ViewSource("original", path, media_type, (CUSTOMER,))], limits, workdir)
    return rendered["original"]


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def poppler_words(path: Path, page: int) -> tuple[tuple[float, float], dict[str, list[float]]]:
    """(page width, height) and word -> [xMin, yMin, xMax, yMax] from pdftotext -bbox (first occurrence)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    size = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', html)
    assert size
    words: dict[str, list[float]] = {}
    for match in re.finditer(
        r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)<', html
    ):
        words.setdefault(match.group(5), [float(match.group(i)) for i in range(1, 5)])
    return (float(size.group(1)), float(size.group(2))), words


def test_pdf_pages_sizes_rotation_and_marks_where_poppler_reads_the_words(tmp_path: Path) -> None:
    pdf = reportlab_pdf(tmp_path / "order.pdf")
    rendering = render_one(pdf, "application/pdf", tmp_path)
    assert rendering.reason == "" and rendering.page_count == 2 and len(rendering.pages) == 2
    first, second = rendering.pages
    # A4 portrait fits 1200 pixels high; the /Rotate 90 page is shown landscape.
    assert png_size(first.png) == (first.width, first.height) == (849, 1200)
    assert png_size(second.png) == (second.width, second.height) == (1200, 849)

    (width, height), words = poppler_words(pdf, 1)
    [mark] = first.marks
    assert mark["text"] == CUSTOMER.text and mark["entity_type"] == "CUSTOMER"
    left, top, right, bottom = mark["box"]
    kestrel, gmbh = words["Kestrel"], words["GmbH"]
    assert left == pytest.approx(kestrel[0] / width, abs=0.004)
    assert right == pytest.approx(gmbh[2] / width, abs=0.004)
    assert top == pytest.approx(kestrel[1] / height, abs=0.006)
    assert bottom == pytest.approx(kestrel[3] / height, abs=0.006)
    # Nothing else on the page is marked: "Stuttgart" lies right of the box.
    assert words["Stuttgart"][0] / width > right

    # Page 2 holds the same line; /Rotate 90 turns it clockwise: (x, y) -> (1 - y, x).
    [turned] = second.marks
    assert turned["box"] == pytest.approx([1 - bottom, left, 1 - top, right], abs=0.006)


def test_page_limit_renders_the_first_pages_and_counts_the_rest(tmp_path: Path) -> None:
    pdf = reportlab_pdf(tmp_path / "long.pdf", pages=5, rotate_second=False)
    rendering = render_one(pdf, "application/pdf", tmp_path, PreviewLimits(max_pages=2, long_side=600))
    assert rendering.page_count == 5
    assert [p.page for p in rendering.pages] == [1, 2]
    assert all(max(png_size(p.png)) == 600 for p in rendering.pages)


def _fodt(text: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.text">
 <office:body><office:text>
  <text:p>Delivery note 17</text:p>
  <text:p>{text}</text:p>
 </office:text></office:body>
</office:document>
"""


def test_libreoffice_docx_and_text_are_converted_and_marked(tmp_path: Path) -> None:
    source = tmp_path / "note.fodt"
    source.write_text(_fodt("Consignee: Kestrel Dynamics GmbH, Stuttgart"), encoding="utf-8")
    [docx] = soffice_convert([source], "docx:MS Word 2007 XML", tmp_path / "made")
    text = tmp_path / "order.txt"
    text.write_bytes("Auftrag für KESTREL DYNAMICS GMBH\nMenge: 40\n".encode("gb18030"))
    work = tmp_path / "work"
    work.mkdir()
    staged_docx, staged_text = work / "source-original", work / "source-supplier"
    staged_docx.write_bytes(docx.read_bytes())
    staged_text.write_bytes(text.read_bytes())
    rendered = render_views(
        [
            ViewSource(
                "original",
                staged_docx,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                (CUSTOMER,),
            ),
            ViewSource("supplier", staged_text, "text/plain", (CUSTOMER,)),
        ],
        LIMITS,
        work,
    )
    for view in ("original", "supplier"):
        rendering = rendered[view]
        assert rendering.reason == "", rendering.reason
        assert rendering.page_count == 1
        page = rendering.pages[0]
        assert png_size(page.png) == (849, 1200)  # LibreOffice's default page is A4 portrait
        [mark] = page.marks
        left, top, right, bottom = mark["box"]
        assert 0 < left < right < 1 and 0 < top < bottom < 0.3, mark
        # The mark covers ink: the name was drawn there.
        with Image.open(io.BytesIO(page.png)) as image:
            region = image.convert("L").crop(
                (
                    int(left * page.width),
                    int(top * page.height),
                    int(right * page.width),
                    int(bottom * page.height),
                )
            )
            assert region.getextrema()[0] < 100


def test_image_exif_orientation_tiff_frames_and_ocr_marks(tmp_path: Path) -> None:
    upright = label(("Ship to Kestrel Dynamics GmbH",), size=40)
    # Stored on its side, with EXIF orientation 6: a viewer turns it 90 degrees clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    photo = tmp_path / "label.png"
    stored.save(photo, exif=camera_exif(orientation=6))
    rendering = render_one(photo, "image/png", tmp_path)
    assert rendering.page_count == 1
    [page] = rendering.pages
    assert png_size(page.png) == upright.size  # upright, and small images are not enlarged
    assert page.marks, "OCR found the name on the upright image"
    left, top, right, bottom = page.marks[0]["box"]
    assert right - left > bottom - top  # a horizontal line of text, as shown

    frames = [label(("Page one",), size=30), label(("Kestrel Dynamics GmbH",), size=30).resize((1600, 200))]
    scan = tiff_pages(tmp_path, frames)
    rendering = render_one(scan, "image/tiff", tmp_path)
    assert rendering.page_count == 2 and [p.page for p in rendering.pages] == [1, 2]
    assert max(png_size(rendering.pages[1].png)) == 1200  # downscaled to the long side
    assert not rendering.pages[0].marks and rendering.pages[1].marks


def test_files_without_pages_and_hostile_files_get_a_reason(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "clip").write_bytes(b"\x00\x00\x00\x18ftypisom")
    (work / "broken").write_bytes(b"%PDF-1.7\n1 0 obj <</Type /Catalog>>\n%%EOF\n")
    big = Image.new("L", (4000, 4000), 255)
    big.save(work / "big.png")
    rendered = render_views(
        [
            ViewSource("original", work / "clip", "video/mp4"),
            ViewSource("supplier", work / "broken", "application/pdf"),
            ViewSource("bureau", work / "big.png", "image/png"),
        ],
        PreviewLimits(max_image_pixels=1_000_000),
        work,
    )
    assert rendered["original"].pages == [] and "videos have no pages" in rendered["original"].reason
    assert rendered["supplier"].pages == [] and "PDF" in rendered["supplier"].reason
    assert rendered["bureau"].pages == [] and "too large" in rendered["bureau"].reason
