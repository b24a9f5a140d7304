"""Pixels of one displayed frame: normalised modes, opaque covers, placeholders, hashes.

Invariants:

* A frame handed on from here is a fresh image built from pixels only: its
  ``info`` is empty, so nothing the encoder might copy (EXIF, XMP, comments,
  text chunks) travels with it.
* Transparency is flattened onto white, so the pixels OCR reads are the
  pixels that are written: nothing can hide under a fully transparent alpha.
* A cover is solid and opaque (black, full alpha where a mode has one), never
  a blur or a pixelation, which can be reversed or read through; it reaches
  past the text by a few pixels plus a fraction of the line height, because
  Tesseract's word boxes hug the ink and antialiased edges lie outside them.
* A manual box (the applicant's) is painted solid black over every pixel it
  touches (rounded outwards); :func:`unpainted_boxes` checks a decoded frame
  afresh from the box's fractions, not from what was painted, so a wrong
  mapping or a lossy encoder that brightened the region is caught.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from functools import cache

from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter

from exchange.domain.detection.review import ManualBox
from exchange.domain.redaction.image.ocr import Box, Point, Rotation

Polygon = tuple[Point, ...]

#: modes written out as they are; everything else is converted first
KEPT_MODES = ("L", "RGB", "CMYK")
#: fixed part of the margin around a covered line (pixels)
MARGIN_PIXELS = 3
#: part of the margin that grows with the line's height
MARGIN_FRACTION = 0.2
#: pixels left free between a cover and a word that stays (Tesseract merges touching blobs)
CLEARANCE = 3
#: a manual box's region counts as painted when no pixel of it is lighter than this (0-255 grey):
#: black written losslessly reads 0; JPEG at quality 92 rings a few levels inside a black block
PAINTED_MAX_GREY = 48
#: pixels of a box's edge not checked: lossy encoders and resampling blur the boundary
PAINTED_EDGE = 3


def displayable(image: Image.Image) -> Image.Image:
    """``image``'s pixels in one of :data:`KEPT_MODES`, on a fresh image with no info."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit and float grey: scale to 8 bits (a plain convert clips at 255).
        floats = image.convert("F")
        lo, hi = (float(v) for v in floats.getextrema())  # type: ignore[arg-type]  # one band: (lo, hi)
        span = (hi - lo) or 1.0
        converted = floats.point(lambda v: (v - lo) * 255.0 / span).convert("L")
    elif "A" in mode or "a" in mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        converted = flat.convert("L" if mode in ("LA", "La", "L") else "RGB")
    elif mode == "1":
        converted = image.convert("L")
    elif mode in KEPT_MODES:
        converted = image
    else:
        converted = image.convert("RGB")
    fresh = Image.new(converted.mode, converted.size)
    fresh.paste(converted, (0, 0))
    return fresh


_ICC_SPACE = {"L": b"GRAY", "RGB": b"RGB ", "CMYK": b"CMYK"}


@cache
def srgb_profile() -> bytes:
    """A fresh sRGB profile: the only one an output carries (no text from the input's)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def as_srgb(frame: Image.Image, icc: bytes | None) -> tuple[Image.Image, str | None]:
    """``frame`` (a :func:`displayable` frame) as a viewer shows it through ``icc``, in sRGB.

    A viewer applies the embedded profile, so a profile can make near-white
    pixels that OCR reads as blank show dark, and its description and
    copyright texts travel with it. Applying it here means OCR reads the
    pixels the recipient sees and the output needs no profile but a fresh
    sRGB one. Returns the frame and a warning, or None. A profile for another
    colour space than the frame's, or one lcms cannot use, is not applied
    (viewers ignore it too) and is dropped with the warning.
    """
    if not icc:
        return frame, None
    if len(icc) < 20 or icc[16:20] != _ICC_SPACE.get(frame.mode):
        return frame, "a colour profile that does not fit the image was removed"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
        converted = ImageCms.profileToProfile(frame, source, target, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return frame, "a colour profile that could not be read was removed"
    if converted is None:
        return frame, "a colour profile that could not be read was removed"
    return (converted.convert("L") if frame.mode == "L" else converted), None


#: how much a pixel's difference from its surroundings is amplified in the contrast view
CONTRAST_GAIN = 8
#: a frame whose contrast view shows at least this share of ink away from any edge that plain
#: grey binarisation sees gets a second OCR pass over the view
HIDDEN_INK_SHARE = 0.0005
HIDDEN_INK_MIN = 150


def contrast_view(frame: Image.Image) -> Image.Image:
    """Dark where any colour channel differs from its surroundings: text OCR misses in grey.

    Tesseract binarises one grey image with one global threshold, so light
    grey text on a page that also holds black text, dark text on a dark band
    and coloured text whose grey equals its background's all come out blank,
    while a viewer shows them plainly. Here each channel's difference from a
    blurred copy of itself is amplified (:data:`CONTRAST_GAIN`) and the
    largest difference per pixel is drawn dark on white, same size and
    geometry as ``frame``, so its word boxes are the frame's.
    """
    rgb = frame.convert("RGB") if frame.mode == "CMYK" else frame
    # The background is the median of sparse samples: an average would mix the text
    # into it and make the paper around every letter differ too.
    small = (max(1, rgb.width // 8), max(1, rgb.height // 8))
    background = rgb.resize(small, Image.Resampling.NEAREST).filter(ImageFilter.MedianFilter(7))
    background = background.resize(rgb.size, Image.Resampling.BILINEAR)
    difference = ImageChops.difference(rgb, background)
    strongest = difference if difference.mode == "L" else _lightest(difference.split())
    return strongest.point(lambda v: 255 - min(255, v * CONTRAST_GAIN))


def _lightest(bands: Sequence[Image.Image]) -> Image.Image:
    out = bands[0]
    for band in bands[1:]:
        out = ImageChops.lighter(out, band)
    return out


#: longest side the hidden-ink test looks at (a frame is reduced first; it only decides a pass)
HIDDEN_INK_SIDE = 1600


def hidden_ink(frame: Image.Image) -> bool:
    """Whether :func:`contrast_view` shows ink that plain grey binarisation does not.

    Ink in the view counts as hidden when no edge of the frame's grey image,
    thresholded at its Otsu level as Tesseract does, lies within two pixels.
    Large frames are judged reduced: this decides whether to spend an OCR
    pass, and a false yes costs only that pass.
    """
    scale = HIDDEN_INK_SIDE / max(frame.width, frame.height)
    if scale < 1:
        size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        frame = frame.resize(size, Image.Resampling.BOX)
    grey = frame.convert("L")
    plain = grey.point(_otsu_lut(grey.histogram()))
    edges = ImageChops.difference(
        plain.filter(ImageFilter.MaxFilter(5)), plain.filter(ImageFilter.MinFilter(5))
    )
    ink = contrast_view(frame).point(lambda v: 255 if v < 96 else 0)
    hidden = ImageChops.subtract(ink, edges).histogram()[255]
    return hidden >= max(HIDDEN_INK_MIN, HIDDEN_INK_SHARE * frame.width * frame.height)


def _otsu_lut(histogram: Sequence[int]) -> list[int]:
    total = sum(histogram)
    weighted = sum(i * n for i, n in enumerate(histogram))
    below = below_sum = 0.0
    best, level = -1.0, 128
    for i, n in enumerate(histogram):
        below += n
        below_sum += i * n
        above = total - below
        if not below or not above:
            continue
        spread = below * above * (below_sum / below - (weighted - below_sum) / above) ** 2
        if spread > best:
            best, level = spread, i
    return [0 if i <= level else 255 for i in range(256)]


_BLACK: dict[str, int | tuple[int, ...]] = {"L": 0, "RGB": (0, 0, 0), "CMYK": (0, 0, 0, 255)}
_GREY: dict[str, int | tuple[int, ...]] = {"L": 200, "RGB": (200, 200, 200), "CMYK": (0, 0, 0, 55)}


def black(mode: str) -> int | tuple[int, ...]:
    return _BLACK[mode]


def placeholder(image: Image.Image) -> Image.Image:
    """A solid grey frame of the same size and mode: the picture is removed, the layout kept."""
    return Image.new(image.mode, image.size, _GREY[image.mode])


def margin(line_height: float) -> float:
    return MARGIN_PIXELS + MARGIN_FRACTION * max(line_height, 0.0)


def pad(box: Box, line_height: float | None = None) -> tuple[float, float, float, float]:
    """``box`` grown by :func:`margin` on every side (the line height defaults to the box's)."""
    left, top, right, bottom = box
    m = margin(bottom - top if line_height is None else line_height)
    return (left - m, top - m, right + m, bottom + m)


def fit_margin(
    box: Box, padded: tuple[float, float, float, float], keep: Sequence[Box]
) -> tuple[float, float, float, float]:
    """``padded`` with its margin pulled back wherever it would touch a word that stays.

    Only the margin gives way, never ``box`` itself: a cover that reaches into
    the next line or the next word makes Tesseract lose that word, both in
    the verification and for the recipient (measured with CJK labels, whose
    word boxes Tesseract draws tall).
    """
    left, top, right, bottom = padded
    for k in keep:
        if k[0] < box[2] and k[2] > box[0] and k[1] < box[3] and k[3] > box[1]:
            continue  # overlaps the covered words themselves: cannot give way
        if not (k[0] < right and k[2] > left and k[1] < bottom and k[3] > top):
            continue
        if k[3] <= box[1]:
            top = max(top, min(box[1], k[3] + CLEARANCE))
        elif k[1] >= box[3]:
            bottom = min(bottom, max(box[3], k[1] - CLEARANCE))
        elif k[2] <= box[0]:
            left = max(left, min(box[0], k[2] + CLEARANCE))
        elif k[0] >= box[2]:
            right = min(right, max(box[2], k[0] - CLEARANCE))
    return (left, top, right, bottom)


def cover(box: Box, rotation: Rotation | None, keep: Sequence[Box] = ()) -> Polygon:
    """The polygon to paint over one line box, in the frame's own pixels.

    For a line read from a rotated copy the padded box is mapped back corner
    by corner, so a slanted line gets a slanted cover. ``keep`` are boxes of
    words that stay (in the same frame as ``box``); see :func:`fit_margin`.
    """
    left, top, right, bottom = fit_margin(box, pad(box), keep)
    corners = ((left, top), (right, top), (right, bottom), (left, bottom))
    if rotation is None:
        return corners
    return tuple(rotation.to_source(x, y) for x, y in corners)


def paint(image: Image.Image, polygons: Sequence[Polygon]) -> Image.Image:
    """A copy of ``image`` with every polygon filled solid black."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for polygon in polygons:
        # Round outwards so a cover never falls short of its polygon by a pixel.
        xs = [p[0] for p in polygon]
        ys = [p[1] for p in polygon]
        if len(polygon) == 4 and xs[0] == xs[3] and ys[0] == ys[1]:
            rect = (math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys)))
            draw.rectangle(rect, fill=black(out.mode))
        else:
            draw.polygon(
                [(round(x), round(y)) for x, y in polygon],
                fill=black(out.mode),
                outline=black(out.mode),
                width=2,
            )
    return out


def pixel_digest(image: Image.Image) -> str:
    """SHA-256 of mode, size and pixels, hashed in bands so a large frame is not copied whole."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    band = max(1, (4 * 2**20) // max(1, image.width * len(image.getbands())))
    for top in range(0, image.height, band):
        digest.update(image.crop((0, top, image.width, min(image.height, top + band))).tobytes())
    return digest.hexdigest()


def paint_boxes(image: Image.Image, boxes: Sequence[ManualBox]) -> Image.Image:
    """A copy of ``image`` with every manual box filled solid black (fractions of this frame)."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for box in boxes:
        left, top, right, bottom = box.pixels(out.width, out.height)
        if right > left and bottom > top:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=black(out.mode))
    return out


def unpainted_boxes(image: Image.Image, boxes: Sequence[ManualBox]) -> list[ManualBox]:
    """The boxes whose region in ``image`` (a decoded output) is not solid black.

    The region is recomputed from the box's fractions on ``image``'s own size,
    less :data:`PAINTED_EDGE` pixels on each side (never less than its centre
    pixel); every pixel of it must be at most :data:`PAINTED_MAX_GREY`.
    """
    grey = image.convert("L") if image.mode != "L" else image
    failed: list[ManualBox] = []
    for box in boxes:
        left, top, right, bottom = box.pixels(grey.width, grey.height)
        (x0, x1), (y0, y1) = _inner(left, right), _inner(top, bottom)
        if x1 <= x0 or y1 <= y0:
            failed.append(box)  # a box that covers no pixel at all is not painted
            continue
        # One band: the histogram's last non-zero bin is the brightest pixel.
        histogram = grey.crop((x0, y0, x1, y1)).histogram()
        brightest = max(level for level, n in enumerate(histogram) if n)
        if brightest > PAINTED_MAX_GREY:
            failed.append(box)
    return failed


def _inner(start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` less the edge on both sides, or its middle pixel when that leaves nothing."""
    if end - start > 2 * PAINTED_EDGE:
        return start + PAINTED_EDGE, end - PAINTED_EDGE
    middle = (start + end) // 2
    return (middle, middle + 1) if end > start else (start, start)
