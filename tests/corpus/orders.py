"""The papers of an export order (purchase order, end-use statement) as PDFs drawn by reportlab.

reportlab is a producer independent of our code. A test names the lines of
each page and where they stand, so a box drawn by fractions of the page, a
word poppler finds or a word Tesseract reads lands on a known line. Nothing
here is committed as a binary: each call draws a fresh PDF and returns it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

#: ``(y, text)`` or ``(y, text, font size)``: y in points from the bottom of an A4 page (595 x 842)
Line = tuple[float, str] | tuple[float, str, float]

#: the street the review tests box by hand
DELIVERY_STREET = "Werkstrasse"
#: a purchase order with a customer, a trade secret and, low on the page, a delivery address
PURCHASE_ORDER: tuple[Line, ...] = (
    (760, "Purchase order 4711"),
    (720, "Buyer: Kestrel Dynamics GmbH, Stuttgart"),
    (680, "Process: grain boundary diffusion"),
    (400, f"Delivery address: {DELIVERY_STREET} 12"),
)
#: both recipients lose the purchase order's customer and trade secret (one finding each)
PURCHASE_ORDER_POLICY = """version: 1
name: NdFeB magnets for loudspeakers
terms:
  customers: ["Kestrel Dynamics GmbH"]
  trade_secrets: ["grain boundary diffusion"]
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET]
"""


def order_pdf(*pages: Sequence[Line], size: float = 12, title: str | None = None) -> bytes:
    """A PDF of one A4 page per entry of ``pages``; Helvetica at ``size`` unless a line names its own."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    if title is not None:
        pdf.setTitle(title)
    for lines in pages:
        current = None
        # Top to bottom, the order a reader (and pdftotext) takes them in.
        for y, text, *own in sorted(lines, key=lambda line: -line[0]):
            wanted = own[0] if own else size
            if wanted != current:
                pdf.setFont("Helvetica", wanted)
                current = wanted
            pdf.drawString(72, y, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
