"""Per-page fallback: a page the surgical engine cannot edit becomes a redacted picture of itself.

When: glyphs cannot be removed in place — a font without reliable widths, glyphs
that map to no text, a CMap this engine cannot read, zero-size text, a form
drawn with different text states, an image under a box that cannot be
repainted, a font whose text does not match what its glyphs draw (see
``textlayer``). Not when text is drawn where no extractor reads it (tiling-pattern
cells, soft-mask groups): OCR would be the only reader of that text, so such
a page still fails closed (see :func:`can_fall_back`).

How: pdfium (a different implementation, which reads CMaps and fonts this
engine cannot) renders the page at :data:`DPI`; its page text, with character
boxes, and the OCR of the render are both passed to ``find``; every finding
is painted opaque black, with a margin, into the render; the page's content
becomes that image alone: no text layer, no annotations, no other resources.

Also for pages with the applicant's manual boxes: a box must take away
everything under it (glyphs, vector paint, image samples, annotations), and
a page that is only pixels has nothing else to take away. The box, in
fractions of the page as displayed (after /Rotate, within the crop box), is
mapped onto the unrotated render and painted solid black like a finding.

Invariants: the render is of the already sanitised output (hidden layers,
scripts and attachments gone); nothing of the original page content survives
but its pixels; the verifier reads the new page image by OCR like any other,
and renders the page again as displayed to check every manual box is solid.
"""

from __future__ import annotations

import io
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pikepdf
import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.detection.review import MANUAL, ManualBox
from exchange.domain.redaction.pdf.images import PixelReader, PixelRect, margin, was_turned
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.output import save_pdf
from exchange.domain.redaction.pdf.textmodel import Box, page_box

Finder = Callable[[str], Sequence[Redaction]]
DPI = 150
_UNREAD_TEXT = "draws text, which is not supported"
#: the reason reported for a page rendered because the applicant boxed part of it
MANUAL_REASON = "the applicant boxed a region by hand"


def can_fall_back(failures: Sequence[str]) -> bool:
    """True when rasterizing the page removes what made it fail (module docstring)."""
    return bool(failures) and not any(_UNREAD_TEXT in reason for reason in failures)


def _page_text(textpage: Any) -> tuple[str, list[int]]:
    """pdfium's page text and, per character of it, pdfium's character index."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    if len(text) == count:
        return text, list(range(count))
    # Characters outside the BMP come back as surrogate pairs: map them one by one.
    parts: list[str] = []
    index: list[int] = []
    for i in range(count):
        ch = textpage.get_text_range(i, 1)
        parts.append(ch)
        index.extend([i] * len(ch))
    return "".join(parts), index


def _text_rects(
    textpage: Any,
    *,
    text: str,
    index: list[int],
    spans: Sequence[Redaction],
    crop: tuple[float, ...],
    scale: float,
) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (one per line piece) over the characters of ``spans``."""
    x0, _, _, y1 = crop
    out: list[tuple[int, int, int, int]] = []
    for span in spans:
        current: list[float] | None = None
        for k in range(span.start, min(span.end, len(text))):
            if text[k].isspace():
                continue
            left, bottom, right, top = textpage.get_charbox(index[k])
            if right <= left or top <= bottom:
                continue
            if current is not None and abs(current[1] - bottom) < 0.5 * (top - bottom):
                current = [
                    min(current[0], left),
                    min(current[1], bottom),
                    max(current[2], right),
                    max(current[3], top),
                ]
                continue
            if current is not None:
                out.append(_to_pixels(current, x0, y1, scale))
            current = [left, bottom, right, top]
        if current is not None:
            out.append(_to_pixels(current, x0, y1, scale))
    return out


def _to_pixels(box: list[float], x0: float, y1: float, scale: float) -> tuple[int, int, int, int]:
    return (
        int((box[0] - x0) * scale),
        int((y1 - box[3]) * scale),
        int((box[2] - x0) * scale) + 1,
        int((y1 - box[1]) * scale) + 1,
    )


def unrotated(box: ManualBox, rotation: int) -> ManualBox:
    """``box`` (fractions of the page as displayed) as fractions of the page before /Rotate.

    ``rotation`` is the page's clockwise display turn in degrees (0, 90, 180
    or 270). Turning by 90 clockwise shows the unrotated point (x, y) at
    (1 - y, x) in fractions; the inverse is applied here to both corners.
    """
    left, top, right, bottom = box.box
    corners = ((left, top), (right, bottom))
    if rotation == 90:
        mapped = [(v, 1.0 - u) for u, v in corners]
    elif rotation == 180:
        mapped = [(1.0 - u, 1.0 - v) for u, v in corners]
    elif rotation == 270:
        mapped = [(1.0 - v, u) for u, v in corners]
    else:
        mapped = list(corners)
    xs, ys = sorted(x for x, _ in mapped), sorted(y for _, y in mapped)
    return ManualBox(box.page, (xs[0], ys[0], xs[1], ys[1]))


def _spans(find: Finder, text: str) -> list[Redaction]:
    if not text.strip():
        return []
    return merge_redactions(r for r in find(text) if 0 <= r.start < r.end <= len(text))


def render_redacted(
    doc: Any,
    number: int,
    *,
    crop: tuple[float, ...],
    find: Finder,
    reader: PixelReader,
    covers: Sequence[Box] = (),
    manual: Sequence[ManualBox] = (),
    dpi: int = DPI,
) -> tuple[Image.Image, Counter[str], bool]:
    """Page ``number`` rendered by pdfium, with every finding painted (module docstring).

    Also returns whether OCR found text only in a turned copy of the render.

    ``covers`` are page-space areas painted solid grey first (images the
    recipient's rule removes); ``manual`` are the applicant's boxes on this
    page, painted black before OCR reads the render.
    """
    scale = dpi / 72.0
    counts: Counter[str] = Counter()
    page = doc[number - 1]
    try:
        rotation = page.get_rotation()
        page.set_rotation(0)
        bitmap = page.render(scale=scale, may_draw_forms=False)
        image = bitmap.to_pil().convert("RGB")
        if covers:
            grey = ImageDraw.Draw(image)
            for box in covers:
                left, top, right, bottom = _to_pixels(list(box), crop[0], crop[3], scale)
                grey.rectangle((left, top, right - 1, bottom - 1), fill=(191, 191, 191))
        if manual:
            boxed = ImageDraw.Draw(image)
            for drawn in manual:
                left, top, right, bottom = unrotated(drawn, rotation).pixels(image.width, image.height)
                if right > left and bottom > top:
                    boxed.rectangle((left, top, right - 1, bottom - 1), fill=(0, 0, 0))
            counts[MANUAL] += len(manual)
        textpage = page.get_textpage()
        try:
            text, index = _page_text(textpage)
            spans = _spans(find, text)
            rects = _text_rects(textpage, text=text, index=index, spans=spans, crop=crop, scale=scale)
        finally:
            textpage.close()
    finally:
        page.close()
    counts.update(s.entity_type for s in spans)
    ocr = reader.read(image)
    ocr_spans = _spans(find, ocr.text)
    counts.update(s.entity_type for s in ocr_spans)
    for span in ocr_spans:
        rects += ocr.boxes_for(span.start, span.end)
    draw = ImageDraw.Draw(image)
    painted: list[PixelRect] = [margin(r, image.size) for r in rects]
    for left, top, right, bottom in painted:
        draw.rectangle((left, top, right - 1, bottom - 1), fill=(0, 0, 0))
    return image, counts, was_turned(ocr)


def rasterize_failed_pages(
    data: bytes,
    reasons: dict[int, list[str]],
    *,
    find: Finder,
    reader: PixelReader,
    limits: PdfLimits,
    covers: dict[int, list[Box]] | None = None,
    manual: dict[int, list[ManualBox]] | None = None,
    dpi: int = DPI,
) -> tuple[bytes, dict[int, dict[str, Any]]]:
    """Replace each page in ``reasons`` by its redacted render; report entries per page.

    ``manual`` holds the applicant's boxes by page; each such page must be in ``reasons``.
    """
    entries: dict[int, dict[str, Any]] = {}
    if not reasons:
        return data, entries
    doc = pdfium.PdfDocument(data)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for number in sorted(reasons):
                page = pdf.pages[number - 1]
                x0, y0, x1, y1 = page_box(page.obj)
                # Checked before rendering: pdfium would allocate the bitmap first.
                if (x1 - x0) * (y1 - y0) * (dpi / 72.0) ** 2 > limits.max_image_pixels:
                    raise ValueError("the rendered page is larger than the image limit")
                boxes = (manual or {}).get(number, [])
                image, counts, turned = render_redacted(
                    doc,
                    number,
                    crop=(x0, y0, x1, y1),
                    find=find,
                    reader=reader,
                    covers=(covers or {}).get(number, ()),
                    manual=boxes,
                    dpi=dpi,
                )
                stream = pdf.make_stream(zlib.compress(image.tobytes(), 6))
                stream.Filter = pikepdf.Name.FlateDecode
                stream.Type = pikepdf.Name.XObject
                stream.Subtype = pikepdf.Name.Image
                stream.Width = image.width
                stream.Height = image.height
                stream.ColorSpace = pikepdf.Name.DeviceRGB
                stream.BitsPerComponent = 8
                content = b"q %.4f 0 0 %.4f %.4f %.4f cm /RasterPage Do Q\n" % (x1 - x0, y1 - y0, x0, y0)
                page.obj.Contents = pdf.make_stream(content)
                page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(RasterPage=stream))
                for key in ("/Annots", "/Group", "/Thumb", "/PieceInfo", "/Metadata", "/StructParents"):
                    if key in page.obj:
                        del page.obj[key]
                entries[number] = {
                    "page": number,
                    "status": "rasterized",
                    "reasons": sorted(set(reasons[number])),
                    "redactions": dict(counts),
                    "read_turned": turned,
                    "dpi": dpi,
                }
                if boxes:
                    entries[number]["manual_boxes"] = len(boxes)
            return save_pdf(pdf), entries
    finally:
        doc.close()
