"""PDFs made with reportlab: standard Type1 fonts without embedded widths."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from tests.corpus.pdf import SECRET


def simple(dirpath: Path, pages: int = 1) -> Path:
    path = dirpath / "reportlab_simple.pdf"
    c = canvas.Canvas(str(path))
    c.setTitle(f"Customer list {SECRET}")
    c.setAuthor("Applicant Alice")
    c.setSubject(SECRET)
    for n in range(pages):
        c.setFont("Helvetica", 12)
        c.drawString(72, 700, f"Order placed by {SECRET} GmbH for the turbine.")
        c.drawString(72, 680, f"End use statement signed for {SECRET} in Bremen.")
        c.setFont("Times-Roman", 11)
        c.drawString(72, 660, f"Page {n + 1}: the turbine ships in May.")
        c.showPage()
    c.save()
    return path


def outline_annotations_form(dirpath: Path) -> Path:
    """Bookmarks, a sticky note, a free-text style link and a filled form field."""
    path = dirpath / "reportlab_extras.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 12)
    c.drawString(72, 700, "Contract for the turbine with a customer.")
    c.bookmarkPage("p1")
    c.addOutlineEntry(f"Annex for {SECRET}", "p1", level=0)
    c.textAnnotation(f"Check the {SECRET} quote", Rect=(300, 600, 320, 620))
    c.linkURL("https://example.org/kestrel-dynamics", (72, 690, 200, 712))
    form = c.acroForm
    form.textfield(
        name="customer", value=f"{SECRET}", x=72, y=500, width=250, height=20, fontName="Helvetica"
    )
    c.showPage()
    c.save()
    return path


def hidden_under_box(dirpath: Path) -> Path:
    """The applicant's failed redaction: text, then a black box drawn over it."""
    path = dirpath / "reportlab_box.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 12)
    c.drawString(72, 700, f"Shipment to {SECRET} via the turbine plant.")
    c.drawString(72, 680, "Unit price 4711 EUR for the turbine.")
    c.setFillColorRGB(0, 0, 0)
    # Box over the secret (matches a finding) and over the price (matches nothing).
    c.rect(135, 696, 100, 14, fill=1, stroke=0)
    c.rect(128, 676, 30, 14, fill=1, stroke=0)
    c.showPage()
    c.save()
    return path


def scanned_with_ocr_layer(dirpath: Path) -> Path:
    """An image of the page with an invisible (render mode 3) OCR text layer."""
    path = dirpath / "reportlab_ocr.pdf"
    img = Image.new("RGB", (1240, 1754), "white")
    # Draw a dark band where the secret is "printed" on the scan.
    for x in range(300, 700):
        for y in range(290, 330):
            img.putpixel((x, y), (20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    c = canvas.Canvas(str(path), pagesize=(595.2, 841.8))
    c.drawImage(ImageReader(buf), 0, 0, width=595.2, height=841.8)
    text = c.beginText(72, 700)
    text.setTextRenderMode(3)
    text.setFont("Helvetica", 14)
    text.textLine(f"Scanned order from {SECRET} for the turbine.")
    c.drawText(text)
    c.showPage()
    c.save()
    return path
