"""Pixels in PDFs: every drawn image is read by OCR, painted where findings are, re-read.

Invariants:

* An image is read as a viewer shows it: its samples composited over white
  through its soft mask (``/SMask``, or alpha in the image data), explicit
  mask (``/Mask`` stream) or colour-key mask (``/Mask`` array); a stencil mask
  (``/ImageMask``) is read as the shape it paints. Text spelled only by a
  mask is read too.
* OCR results are keyed by the SHA-256 of the pixels that were read, never by
  object number, so a result is reused only for exactly those pixels: an image
  this engine painted is read again by the verifier.
* Only images too small to hold a readable word are not read: fewer than
  :data:`MIN_SIDE` pixels on the shorter side or :data:`MIN_LONG_SIDE` on the
  longer (three letters six pixels high do not fit); see :func:`too_small`.
* A painted rectangle is opaque black in the samples, with a margin, never a
  blur; the mask of a painted image (soft, explicit or colour-key) is rewritten
  as a soft mask that is opaque over the same rectangles, so no mask can show
  or hide what was removed. A painted stencil mask paints its rectangles solid.
* An image that cannot be decoded (codec missing, more pixels than
  ``max_image_pixels``) cannot be read: under the ``redact`` rule it is
  replaced by a solid placeholder and reported, never passed on unread.

Threat assumptions: image dictionaries and samples are applicant-controlled;
sizes are checked before decoding and every decode failure is contained.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from PIL import Image, ImageChops, ImageDraw

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.image.ocr import OcrResult, OcrWord, assemble, ocr_image, ocr_oriented
from exchange.domain.redaction.pdf.limits import PdfLimits, check_stream_size, stream_filters
from exchange.domain.redaction.pdf.textmodel import Box, ImagePlacement, Interpreter, PageModel, transform_box
from exchange.domain.redaction.pdf.verify import Leak, Needles

Finder = Callable[[str], Sequence[Redaction]]
PixelRect = tuple[int, int, int, int]  # left, top, right, bottom; right/bottom exclusive

#: shorter side, in pixels, below which no word can be read
MIN_SIDE = 8
#: longer side, in pixels, below which no word can be read
MIN_LONG_SIDE = 24
#: images whose longer side is below this are read at twice the size (Tesseract
#: reads glyphs under ~20 pixels high poorly); boxes are scaled back
_UPSCALE_BELOW = 300
_PLACEHOLDER_GREY = 0xBF


class CannotRead(Exception):
    """The image's pixels cannot be decoded; the message is secret-free."""


@dataclass(frozen=True, slots=True)
class OcrSettings:
    languages: str = "eng"
    timeout: float = 180.0
    workers: int = 1
    review_confidence: float = 70.0

    @classmethod
    def from_limits(cls, limits: EngineLimits) -> OcrSettings:
        return cls(
            languages=limits.ocr_languages,
            timeout=limits.ocr_timeout,
            workers=max(1, limits.ocr_workers),
            review_confidence=limits.ocr_review_confidence,
        )


# -- decoding ---------------------------------------------------------------------
@dataclass(slots=True)
class Drawn:
    """An image's decoded samples and what masks them, at the samples' size."""

    base: Image.Image
    #: L at ``base.size``, 255 where the image shows; None when unmasked
    alpha: Image.Image | None = None
    #: a stencil mask: ``base`` is mode "1", 0 where the fill colour paints
    stencil: bool = False
    jpeg: bool = False


def _pil(obj: Any, limits: PdfLimits, inline: bool) -> Image.Image:
    if inline:
        try:
            image: Image.Image = obj.as_pil_image()
        except Exception as exc:
            raise CannotRead("an inline image cannot be decoded") from exc
        if image.width * image.height > limits.max_image_pixels:
            raise CannotRead("an image has more pixels than the limit")
        return image
    try:
        width = int(obj.get("/Width", 0))
        height = int(obj.get("/Height", 0))
    except (TypeError, ValueError) as exc:
        raise CannotRead("an image has no valid size") from exc
    if width <= 0 or height <= 0 or width * height > limits.max_image_pixels:
        raise CannotRead("an image has more pixels than the limit")
    check_stream_size(obj, limits)
    try:
        return pikepdf.PdfImage(obj).as_pil_image()
    except Exception as exc:
        raise CannotRead("an image cannot be decoded") from exc


def _colour_key_alpha(base: Image.Image, ranges: list[int]) -> Image.Image | None:
    """Alpha for a /Mask array: samples inside every component's range are not painted."""
    if base.mode == "P":
        # Keys compare palette indices, not the colours they stand for.
        bands: tuple[Image.Image, ...] = (Image.frombytes("L", base.size, base.tobytes()),)
    elif base.mode == "1":
        bands = (base.convert("L").point(lambda v: 1 if v else 0),)
    else:
        bands = base.split()
    if len(ranges) < 2 * len(bands):
        return None
    hidden: Image.Image | None = None
    for band, lo, hi in zip(bands, ranges[0::2], ranges[1::2], strict=False):
        lut = [255 if lo <= v <= hi else 0 for v in range(256)]
        inside = band.point(lut) if band.mode == "L" else band.convert("L").point(lut)
        hidden = inside if hidden is None else ImageChops.multiply(hidden, inside)
    return ImageChops.invert(hidden) if hidden is not None else None


def decode_drawn(placement: ImagePlacement, limits: PdfLimits) -> Drawn:
    """The samples and mask of ``placement``'s image (see the module docstring)."""
    inline = placement.name is None
    obj = placement.obj
    base = _pil(obj, limits, inline)
    stencil = bool(getattr(obj, "image_mask", False)) if inline else bool(obj.get("/ImageMask", False))
    if stencil:
        return Drawn(base.convert("1"), None, stencil=True)
    alpha: Image.Image | None = None
    if base.mode in ("RGBA", "LA", "PA"):
        alpha = base.getchannel("A")
        base = base.convert("RGB" if base.mode != "LA" else "L")
    jpeg = not inline and "/DCTDecode" in stream_filters(obj)
    if not inline:
        smask = obj.get("/SMask")
        mask = obj.get("/Mask")
        if isinstance(smask, pikepdf.Stream):
            alpha = _pil(smask, limits, False).convert("L")
        elif isinstance(mask, pikepdf.Stream):
            # An explicit mask: decoded sample 1 masks out (already decoded through /Decode).
            alpha = ImageChops.invert(_pil(mask, limits, False).convert("L"))
        elif isinstance(mask, pikepdf.Array):
            try:
                ranges = [int(v) for v in mask]
            except (TypeError, ValueError) as exc:
                raise CannotRead("an image has a damaged colour-key mask") from exc
            alpha = _colour_key_alpha(base, ranges)
    if alpha is not None and alpha.size != base.size:
        alpha = alpha.resize(base.size, Image.Resampling.BILINEAR)
    return Drawn(base, alpha, stencil=False, jpeg=jpeg)


def appearance(drawn: Drawn) -> Image.Image:
    """What a viewer shows, over white: the pixels OCR reads."""
    if drawn.stencil:
        return drawn.base.convert("L")
    base = drawn.base
    if base.mode not in ("L", "RGB"):
        base = base.convert("RGB")
    if drawn.alpha is None:
        return base
    white = Image.new(base.mode, base.size, 255 if base.mode == "L" else (255, 255, 255))
    return Image.composite(base, white, drawn.alpha)


def too_small(size: tuple[int, int]) -> bool:
    """True when no readable word fits in an image of ``size`` pixels (module docstring)."""
    return min(size) < MIN_SIDE or max(size) < MIN_LONG_SIDE


def pixel_key(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


# -- reading --------------------------------------------------------------------
class PixelReader:
    """OCR of distinct pixels, cached by :func:`pixel_key`, run on a thread pool.

    Each OCR is a Tesseract child process, so threads run in parallel; at most
    ``2 * workers`` images wait in memory at once.
    """

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self.results: dict[str, OcrResult] = {}
        self._pending: dict[str, Future[OcrResult]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(2 * settings.workers)
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> PixelReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, image: Image.Image, key: str | None = None, *, oriented: bool = True) -> str:
        """Start reading ``image`` unless its pixels were read already; returns its key.

        ``oriented`` adds the image engine's turn search when the upright pass
        reads too little (sideways or slanted scans); the verifier re-reads
        painted pixels upright only, since a painted image reads "weak" by
        design and the search would multiply its cost (see the report).
        """
        key = key or pixel_key(image)
        with self._lock:
            if key in self.results or key in self._pending:
                return key
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="ocr")
        self._slots.acquire()
        try:
            future = self._pool.submit(self._ocr, image, oriented)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        with self._lock:
            self._pending[key] = future
        return key

    def get(self, key: str) -> OcrResult:
        """The result for ``key`` (waits; re-raises the OCR's UnsupportedFile)."""
        with self._lock:
            done = self.results.get(key)
            future = self._pending.get(key)
        if done is not None:
            return done
        if future is None:
            raise KeyError(key)
        result = future.result()
        with self._lock:
            self.results[key] = result
            self._pending.pop(key, None)
        return result

    def read(self, image: Image.Image) -> OcrResult:
        return self.get(self.submit(image))

    def _ocr(self, image: Image.Image, oriented: bool) -> OcrResult:
        settings = self.settings
        scale = 2 if max(image.size) < _UPSCALE_BELOW else 1
        target = image.resize((image.width * scale, image.height * scale)) if scale > 1 else image
        if oriented:
            result = ocr_oriented(target, languages=settings.languages, timeout=settings.timeout)
        else:
            result = ocr_image(target, languages=settings.languages, timeout=settings.timeout)
        if scale == 1:
            return result
        words = [
            OcrWord(
                w.text,
                (w.box[0] // scale, w.box[1] // scale, -(-w.box[2] // scale), -(-w.box[3] // scale)),
                w.confidence,
                w.line,
            )
            for w in result.words
        ]
        return assemble(words, image.size)


# -- one page's images -------------------------------------------------------------
@dataclass(slots=True)
class ImageUse:
    """One image as a page draws it: every placement sharing one context and resource."""

    key: tuple[int, str | int]
    placements: list[ImagePlacement]
    drawn: Drawn | None = None
    #: why ``drawn`` is None
    unreadable: str = ""
    #: pixel key of the appearance; "" when too small to read or unreadable
    pixels: str = ""
    #: rectangles (at ``drawn.base.size``) to paint
    rects: list[PixelRect] = field(default_factory=list)
    #: replace the image by a placeholder
    placeholder: bool = False

    @property
    def first(self) -> ImagePlacement:
        return self.placements[0]


def page_images(model: PageModel, limits: PdfLimits, *, decode: bool = True) -> list[ImageUse]:
    """The page's images grouped by (context, resource name or inline instruction)."""
    uses: dict[tuple[int, str | int], ImageUse] = {}
    for placement in model.images:
        key = (id(placement.ctx), placement.name if placement.name is not None else placement.instr)
        use = uses.get(key)
        if use is None:
            uses[key] = use = ImageUse(key, [])
        use.placements.append(placement)
    if decode:
        for use in uses.values():
            try:
                use.drawn = decode_drawn(use.first, limits)
            except CannotRead as exc:
                use.unreadable = str(exc)
    return list(uses.values())


def submit_page(uses: Iterable[ImageUse], reader: PixelReader) -> None:
    """Start OCR of every readable image of a page (see :func:`too_small`)."""
    for use in uses:
        if use.drawn is None:
            continue
        shown = appearance(use.drawn)
        if too_small(shown.size):
            continue
        use.pixels = reader.submit(shown)


@dataclass(slots=True)
class PagePixels:
    """What one recipient's rule does to one page's images."""

    uses: list[ImageUse] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    #: page-space boxes over the painted pixels (text over them is removed too)
    page_boxes: list[Box] = field(default_factory=list)
    images_read: int = 0
    #: some picture on the page was read only when turned (sideways or slanted text)
    turned: bool = False
    placeholders: int = 0
    warnings: list[str] = field(default_factory=list)

    def use_for(self, placement: ImagePlacement) -> ImageUse | None:
        key = (id(placement.ctx), placement.name if placement.name is not None else placement.instr)
        for use in self.uses:
            if use.key == key:
                return use
        return None


def margin(box: tuple[int, int, int, int], size: tuple[int, int]) -> PixelRect:
    """A box grown by a fifth of its line height (at least 2 px), clipped to the image.

    The line height is the box's shorter side, so sideways text gets the same margin.
    """
    pad = max(2, min(box[2] - box[0], box[3] - box[1]) // 5)
    return (
        max(box[0] - pad, 0),
        max(box[1] - pad, 0),
        min(box[2] + pad, size[0]),
        min(box[3] + pad, size[1]),
    )


def page_box_of(placement: ImagePlacement, rect: PixelRect, size: tuple[int, int]) -> Box:
    """Page-space box of pixel ``rect`` in an image of ``size`` drawn by ``placement``."""
    w, h = size
    return transform_box(placement.ctm, rect[0] / w, 1.0 - rect[3] / h, rect[2] / w, 1.0 - rect[1] / h)


def plan_pixels(
    model: PageModel, find: Finder, reader: PixelReader, rule: str, limits: PdfLimits
) -> PagePixels:
    """OCR findings on the page's images painted (``redact``), or every image replaced (``remove``)."""
    out = PagePixels()
    if rule == "keep" or not model.images:
        return out
    if rule == "remove":
        out.uses = page_images(model, limits, decode=False)
        for use in out.uses:
            use.placeholder = True
        out.placeholders = len(out.uses)
        return out
    out.uses = page_images(model, limits)
    submit_page(out.uses, reader)
    for use in out.uses:
        if use.drawn is None:
            use.placeholder = True
            out.placeholders += 1
            out.warnings.append(f"an image could not be read ({use.unreadable}); it was replaced")
            continue
        if not use.pixels:
            continue
        ocr = reader.get(use.pixels)
        out.images_read += 1
        out.turned = out.turned or was_turned(ocr)
        if not ocr.text.strip():
            continue
        size = use.drawn.base.size
        spans = merge_redactions(r for r in find(ocr.text) if 0 <= r.start < r.end <= len(ocr.text))
        for span in spans:
            out.counts[span.entity_type] += 1
            for box in ocr.boxes_for(span.start, span.end):
                rect = margin(box, size)
                use.rects.append(rect)
                out.page_boxes.extend(page_box_of(p, rect, size) for p in use.placements)
    return out


# -- pictures the page model does not walk ------------------------------------------
def _draws_image(stream: Any, limits: PdfLimits, depth: int, seen: set[tuple[int, int]]) -> bool:
    """True when ``stream`` (pattern cell, soft-mask group, glyph, form) paints any image."""
    if depth > limits.max_nesting_depth or not isinstance(stream, pikepdf.Stream):
        return False
    key = stream.objgen
    if key != (0, 0):
        if key in seen:
            return False
        seen.add(key)
    resources = stream.get("/Resources")
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if isinstance(xobjects, pikepdf.Dictionary):
        for xobj in xobjects.values():
            if isinstance(xobj, pikepdf.Stream) and (
                xobj.get("/Subtype") == "/Image" or _draws_image(xobj, limits, depth + 1, seen)
            ):
                return True
    check_stream_size(stream, limits)
    # An inline image needs no resource: look for one in the content itself.
    return any(
        isinstance(ins, pikepdf.ContentStreamInlineImage) for ins in pikepdf.parse_content_stream(stream)
    )


def unread_pictures(model: PageModel, limits: PdfLimits) -> list[str]:
    """Reasons the page paints pixels the page model does not walk (and OCR would not read).

    Tiling-pattern cells, soft-mask groups and Type3 glyph procedures are not
    interpreted as page content; an image inside one is drawn but never read.
    Such a page cannot be redacted in place (the per-page fallback renders it).
    """
    reasons: list[str] = []
    seen: set[tuple[int, int]] = set()
    for ctx in model.contexts.values():
        res = ctx.resources
        if not isinstance(res, pikepdf.Dictionary):
            continue
        patterns = res.get("/Pattern")
        for name in ctx.used.get("/Pattern", set()):
            cell = patterns.get(name) if isinstance(patterns, pikepdf.Dictionary) else None
            if _draws_image(cell, limits, 0, seen):
                reasons.append("a tiling pattern paints an image")
        states = res.get("/ExtGState")
        for name in ctx.used.get("/ExtGState", set()):
            state = states.get(name) if isinstance(states, pikepdf.Dictionary) else None
            smask = state.get("/SMask") if isinstance(state, pikepdf.Dictionary) else None
            group = smask.get("/G") if isinstance(smask, pikepdf.Dictionary) else None
            if _draws_image(group, limits, 0, seen):
                reasons.append("a soft mask paints an image")
        fonts = res.get("/Font")
        for name in ctx.used.get("/Font", set()):
            font = fonts.get(name) if isinstance(fonts, pikepdf.Dictionary) else None
            if not isinstance(font, pikepdf.Dictionary) or font.get("/Subtype") != "/Type3":
                continue
            procs = font.get("/CharProcs")
            glyphs = list(procs.values()) if isinstance(procs, pikepdf.Dictionary) else []
            font_res = font.get("/Resources")
            font_xobjects = font_res.get("/XObject") if isinstance(font_res, pikepdf.Dictionary) else None
            if any(_draws_image(g, limits, 0, seen) for g in glyphs) or (
                isinstance(font_xobjects, pikepdf.Dictionary) and len(font_xobjects.keys()) > 0
            ):
                reasons.append("a Type3 font draws images in its glyphs")
    return sorted(set(reasons))


# -- painting -----------------------------------------------------------------------
def _paint(img: Image.Image, rects: Iterable[PixelRect], value: Any) -> Image.Image:
    draw = ImageDraw.Draw(img)
    for x0, y0, x1, y1 in rects:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=value)
    return img


def _stream(pdf: pikepdf.Pdf, data: bytes, *, jpeg: bool = False, **keys: Any) -> pikepdf.Stream:
    if jpeg:
        stream = pdf.make_stream(data)
        stream.Filter = pikepdf.Name.DCTDecode
    else:
        stream = pdf.make_stream(zlib.compress(data, 6))
        stream.Filter = pikepdf.Name.FlateDecode
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    for k, v in keys.items():
        stream[f"/{k}"] = v
    return stream


def painted_stream(pdf: pikepdf.Pdf, drawn: Drawn, rects: Sequence[PixelRect]) -> pikepdf.Stream:
    """A new image stream: ``drawn`` with ``rects`` opaque black (see the module docstring)."""
    if drawn.stencil:
        img = _paint(drawn.base.copy(), rects, 0)
        # Samples are already decoded through /Decode, so the default [0 1] keeps their meaning.
        return _stream(
            pdf, img.tobytes(), ImageMask=True, Width=img.width, Height=img.height, BitsPerComponent=1
        )
    img = drawn.base
    img = img.convert("RGB") if img.mode not in ("L", "RGB", "CMYK") else img.copy()
    black: Any = 0 if img.mode == "L" else (0, 0, 0, 255) if img.mode == "CMYK" else (0, 0, 0)
    _paint(img, rects, black)
    spaces = {"L": pikepdf.Name.DeviceGray, "RGB": pikepdf.Name.DeviceRGB, "CMYK": pikepdf.Name.DeviceCMYK}
    if drawn.jpeg and img.mode in ("L", "RGB"):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        data, jpeg = buf.getvalue(), True
    else:
        data, jpeg = img.tobytes(), False
    stream = _stream(
        pdf,
        data,
        jpeg=jpeg,
        Width=img.width,
        Height=img.height,
        ColorSpace=spaces[img.mode],
        BitsPerComponent=8,
    )
    if drawn.alpha is not None:
        mask = _paint(drawn.alpha.copy(), rects, 255)
        stream.SMask = _stream(
            pdf,
            mask.tobytes(),
            Width=mask.width,
            Height=mask.height,
            ColorSpace=pikepdf.Name.DeviceGray,
            BitsPerComponent=8,
        )
    return stream


def placeholder_stream(pdf: pikepdf.Pdf) -> pikepdf.Stream:
    """A solid grey 1x1 image: drawn in the image's place, it fills the same area."""
    return _stream(
        pdf,
        bytes([_PLACEHOLDER_GREY]),
        Width=1,
        Height=1,
        ColorSpace=pikepdf.Name.DeviceGray,
        BitsPerComponent=8,
    )


# -- verification -------------------------------------------------------------------
def was_turned(ocr: OcrResult) -> bool:
    """True when some of ``ocr``'s words were read from a turned copy of the image."""
    return any(angle for angle in getattr(ocr, "angles", (0,)))


def scan_pixels(
    data: bytes,
    needles: Needles,
    reader: PixelReader,
    limits: PdfLimits,
    turned_pages: frozenset[int] = frozenset(),
    *,
    pages: frozenset[int] | None = None,
) -> list[Leak]:
    """OCR of every image drawn in the written output (on ``pages``, else all), searched for every value.

    Pixels read before (unchanged images) reuse their OCR; painted images and
    rendered pages are read afresh: upright, and with the turn search on
    ``turned_pages`` (where reading found text only when turned). An image that cannot be decoded here, or
    one drawn where the page model does not walk (:func:`unread_pictures`),
    would leave unread: either way it is a leak.
    """
    leaks: list[Leak] = []
    pending: list[tuple[int, str]] = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        interp = Interpreter(pdf, limits)
        for number, page in enumerate(pdf.pages, start=1):
            if pages is not None and number not in pages:
                continue
            model = interp.page_model(page.obj, number)
            if unread_pictures(model, limits):
                leaks.append(Leak(number, "unread_image", -1))
            for use in page_images(model, limits):
                if use.drawn is None:
                    leaks.append(Leak(number, "unreadable_image", -1))
                    continue
                shown = appearance(use.drawn)
                if needles and not too_small(shown.size):
                    oriented = number in turned_pages
                    pending.append((number, reader.submit(shown, oriented=oriented)))
            del model
    for number, key in pending:
        leaks.extend(Leak(number, "image_text", idx) for idx in needles.search(reader.get(key).text))
    return leaks
