"""Per-recipient ``mode: rasterize``: burn redactions into page images.

Surgical removal leaves side channels: the widths of the gaps (glyph-width
attacks on short names) and embedded font subsets that still hold glyphs only
the removed text used. Rasterize mode closes both for pages that had
redactions: the already surgically redacted page is rendered by pdfium, the
page content is replaced by that image, and the remaining text is laid over
it as invisible text (render mode 3) in a non-embedded standard font, so the
page stays searchable without carrying the original fonts. Pages without
redactions are left as they are.

Invariant: the input to this step has already been redacted, so nothing the
render shows can be more than the surgical output; verification runs after.
"""

from __future__ import annotations

import io
import zlib

import pikepdf
import pypdfium2 as pdfium

from exchange.domain.redaction.pdf import _std14
from exchange.domain.redaction.pdf.fonts import std14_widths
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.output import save_pdf
from exchange.domain.redaction.pdf.textmodel import Interpreter, page_box

DPI = 150


def _escape(data: bytes) -> bytes:
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def rasterize_pages(data: bytes, pages: list[int], limits: PdfLimits, dpi: int = DPI) -> bytes:
    if not pages:
        return data
    metrics = std14_widths("Helvetica")
    widths = metrics[0] if metrics else {}
    names = _std14.ENCODINGS["WinAnsiEncoding"]
    doc = pdfium.PdfDocument(data)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            interp = Interpreter(pdf, limits)
            for number in pages:
                page = pdf.pages[number - 1]
                model = interp.page_model(page.obj, number)
                x0, y0, x1, y1 = page_box(page.obj)
                ppage = doc[number - 1]
                try:
                    ppage.set_rotation(0)
                    bitmap = ppage.render(scale=dpi / 72.0, may_draw_forms=False)
                    image = bitmap.to_pil().convert("RGB")
                finally:
                    ppage.close()
                if image.width * image.height > limits.max_image_pixels:
                    image = image.resize((max(image.width // 2, 1), max(image.height // 2, 1)))
                stream = pdf.make_stream(zlib.compress(image.tobytes(), 6))
                stream.Filter = pikepdf.Name.FlateDecode
                stream.Type = pikepdf.Name.XObject
                stream.Subtype = pikepdf.Name.Image
                stream.Width = image.width
                stream.Height = image.height
                stream.ColorSpace = pikepdf.Name.DeviceRGB
                stream.BitsPerComponent = 8
                ops = [b"q %.4f 0 0 %.4f %.4f %.4f cm /RasterPage Do Q\n" % (x1 - x0, y1 - y0, x0, y0)]
                ops.append(b"BT 3 Tr\n")
                for run in model.text_runs:
                    text = run.text.encode("cp1252", errors="replace")
                    natural = sum(widths.get(names[b] or "space", 556) for b in text) / 1000.0
                    span = run.xs[-1]
                    height = run.y1 - run.y0
                    size = height * 1000.0 / 1150.0 if height > 0 else 1.0
                    if natural <= 0 or size <= 0 or span <= 0:
                        continue
                    tz = max(min(100.0 * span / (natural * size), 1000.0), 1.0)
                    m = run.m
                    ops.append(
                        b"/RasterText %.3f Tf %.3f Tz %.5f %.5f %.5f %.5f %.3f %.3f Tm (%s) Tj\n"
                        % (size, tz, m[0], m[1], m[2], m[3], m[4], m[5], _escape(text))
                    )
                ops.append(b"ET\n")
                contents = pdf.make_stream(zlib.compress(b"".join(ops), 6))
                contents.Filter = pikepdf.Name.FlateDecode
                page.obj.Contents = contents
                page.obj.Resources = pikepdf.Dictionary(
                    XObject=pikepdf.Dictionary(RasterPage=stream),
                    Font=pikepdf.Dictionary(
                        RasterText=pikepdf.Dictionary(
                            Type=pikepdf.Name.Font,
                            Subtype=pikepdf.Name.Type1,
                            BaseFont=pikepdf.Name.Helvetica,
                            Encoding=pikepdf.Name.WinAnsiEncoding,
                        )
                    ),
                )
            return save_pdf(pdf)
    finally:
        doc.close()
