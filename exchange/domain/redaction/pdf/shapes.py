"""Text drawn as shapes: glyph outlines and stroke lettering that no text extractor reads.

"Convert text to curves" in design tools, Ghostscript's ``-dNoOutputFonts``,
PostScript ``charpath fill``, CAD title blocks in stroke fonts and logos drawn
as vectors all put words on the page as paths. They have no text layer and
are not images, so neither the page model nor the OCR of images reads them.

Invariants:

* A page whose paths could spell words (any curve, or subpaths other than
  horizontal or vertical rules and axis-parallel boxes adding up to
  :data:`MIN_SEGMENTS` segments) has its *shape
  layer* read by OCR: the page as pdfium renders it with every text and image
  object taken out (those are read elsewhere), so OCR sees only paint that
  nothing else reads. Pages with only rules and boxes are not rendered.
* What the shape layer's OCR finds goes to ``find`` like any text; the engine
  replaces a page whose shapes spell a finding by its redacted render
  (``fallback``), and the verifier reads every output page's shape layer
  again: a value found there withholds the file.
* The walk is bounded: forms deeper than the nesting limit and more than
  :data:`MAX_OBJECTS` page objects make the page count as having shapes
  (read, never skipped).

Threat assumption: the applicant's file may letter a customer's name or logo
in paths by accident (exported drawings, letterheads); OCR reads lettering of
ordinary size, not deliberately distorted shapes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.pdf.images import PixelReader
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.verify import Leak, Needles

Finder = Callable[[str], Sequence[Redaction]]
#: the reason a page is replaced by its redacted render when its shapes spell a finding
SHAPES_REASON = "text drawn as shapes (paths, no text layer) spells a finding"

#: rendering resolution of a shape layer (that of the per-page fallback)
DPI = 150
#: path segments, outside plain rectangles and lines, from which a page counts as lettered
MIN_SEGMENTS = 24
#: page objects walked before a page counts as lettered without looking further
MAX_OBJECTS = 200_000
_RECT_SEGMENTS = 5  # moveto, three linetos and a closing lineto: a box
_MARGIN = 8  # pixels kept around the painted area when cropping the render


def _children(obj: Any) -> Iterator[Any]:
    for index in range(pdfium_c.FPDFFormObj_CountObjects(obj)):
        yield pdfium_c.FPDFFormObj_GetObject(obj, index)


def _plain(points: list[tuple[float, float]]) -> bool:
    """A horizontal or vertical rule, or a box with axis-parallel sides (a cell, a band).

    Slanted single strokes are not plain: stroke fonts (CAD title blocks) letter
    with them ("K", "A", "V").
    """
    xs = {round(x, 1) for x, _ in points}
    ys = {round(y, 1) for _, y in points}
    if len(points) <= 2:
        return len(xs) == 1 or len(ys) == 1
    return len(points) <= _RECT_SEGMENTS and len(xs) <= 2 and len(ys) <= 2


def _lettering_segments(path: Any) -> int | None:
    """Segments of ``path`` outside plain subpaths; None when it has a curve."""
    count = pdfium_c.FPDFPath_CountSegments(path)
    total = 0
    points: list[tuple[float, float]] = []
    x, y = ctypes.c_float(), ctypes.c_float()
    for index in range(max(count, 0)):
        segment = pdfium_c.FPDFPath_GetPathSegment(path, index)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_BEZIERTO:
            return None
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO and points:
            total += 0 if _plain(points) else len(points)
            points = []
        pdfium_c.FPDFPathSegment_GetPoint(segment, x, y)
        points.append((x.value, y.value))
    if points:
        total += 0 if _plain(points) else len(points)
    return total


def _lettered(page: Any, max_depth: int) -> bool:
    """True when the page's paths could spell words (see the module docstring)."""
    segments = 0
    seen = 0
    todo: list[tuple[Any, int]] = [
        (pdfium_c.FPDFPage_GetObject(page.raw, i), 0) for i in range(pdfium_c.FPDFPage_CountObjects(page.raw))
    ]
    while todo:
        obj, depth = todo.pop()
        seen += 1
        if seen > MAX_OBJECTS:
            return True
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            if depth >= max_depth:
                return True
            todo.extend((child, depth + 1) for child in _children(obj))
        elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            drawn = _lettering_segments(obj)
            if drawn is None:
                return True
            segments += drawn
            if segments >= MIN_SEGMENTS:
                return True
    return False


def _strip_text_and_images(page: Any, max_depth: int) -> None:
    """Remove every text and image object (in forms too) from pdfium's in-memory page."""
    drop = (pdfium_c.FPDF_PAGEOBJ_TEXT, pdfium_c.FPDF_PAGEOBJ_IMAGE)

    def strip_form(form: Any, depth: int) -> None:
        for index in reversed(range(pdfium_c.FPDFFormObj_CountObjects(form))):
            child = pdfium_c.FPDFFormObj_GetObject(form, index)
            kind = pdfium_c.FPDFPageObj_GetType(child)
            if kind in drop:
                if pdfium_c.FPDFFormObj_RemoveObject(form, child):
                    pdfium_c.FPDFPageObj_Destroy(child)
            elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < max_depth:
                strip_form(child, depth + 1)

    for index in reversed(range(pdfium_c.FPDFPage_CountObjects(page.raw))):
        obj = pdfium_c.FPDFPage_GetObject(page.raw, index)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind in drop:
            if pdfium_c.FPDFPage_RemoveObject(page.raw, obj):
                pdfium_c.FPDFPageObj_Destroy(obj)
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            strip_form(obj, 1)


def shape_layers(
    data: bytes, max_depth: int, max_pixels: int, skip: frozenset[int] = frozenset()
) -> Iterator[tuple[int, Image.Image]]:
    """(page number, cropped render of its shape layer) for every lettered page of ``data``.

    Pages in ``skip`` are not looked at; a page whose shape layer paints
    nothing (white) yields nothing. Rendered as displayed (/Rotate applied).
    """
    doc = pdfium.PdfDocument(data)
    try:
        for index in range(len(doc)):
            if index + 1 in skip:
                continue
            page = doc[index]
            try:
                if not _lettered(page, max_depth):
                    continue
                _strip_text_and_images(page, max_depth)
                width, height = page.get_size()
                scale = DPI / 72.0
                if width * height * scale * scale > max_pixels:
                    scale = (max_pixels / max(width * height, 1.0)) ** 0.5
                image = page.render(scale=scale, may_draw_forms=False).to_pil().convert("L")
            finally:
                page.close()
            box = ImageOps.invert(image).point(lambda v: 255 if v > 16 else 0).getbbox()
            if box is None:
                continue
            left, top, right, bottom = box
            yield (
                index + 1,
                image.crop(
                    (
                        max(left - _MARGIN, 0),
                        max(top - _MARGIN, 0),
                        min(right + _MARGIN, image.width),
                        min(bottom + _MARGIN, image.height),
                    )
                ),
            )
    finally:
        doc.close()


def read_shapes(
    data: bytes, reader: PixelReader, limits: PdfLimits, skip: frozenset[int] = frozenset()
) -> list[tuple[int, str]]:
    """(page number, OCR text) of every lettered page's shape layer, read in parallel."""
    keys = [
        (number, reader.submit(image, oriented=True))
        for number, image in shape_layers(data, limits.max_nesting_depth, limits.max_image_pixels, skip)
    ]
    return [(number, reader.get(key).text) for number, key in keys]


def pages_spelling_findings(
    data: bytes, find: Finder, reader: PixelReader, limits: PdfLimits, skip: frozenset[int] = frozenset()
) -> list[int]:
    """Pages whose shape layer, read by OCR, holds something ``find`` finds."""
    return [number for number, text in read_shapes(data, reader, limits, skip) if text.strip() and find(text)]


def scan_shapes(data: bytes, needles: Needles, reader: PixelReader, limits: PdfLimits) -> list[Leak]:
    """The verifier's check: no value in the OCR of any output page's shape layer."""
    if not needles:
        return []
    return [
        Leak(number, "shape_text", idx)
        for number, text in read_shapes(data, reader, limits)
        for idx in needles.search(text)
    ]
