"""Manual boxes below the engines: page checks, the rotation map, painting and its check."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from exchange.domain.detection.review import ManualBox, parse_box
from exchange.domain.redaction.base import boxes_beyond, paints_boxes
from exchange.domain.redaction.image.pixels import PAINTED_EDGE, paint_boxes, unpainted_boxes
from exchange.domain.redaction.pdf.fallback import unrotated
from exchange.domain.redaction.registry import engines

BOX = ManualBox(1, (0.2, 0.3, 0.55, 0.45))


def test_boxes_beyond_names_the_first_missing_page() -> None:
    assert boxes_beyond([1, 3], 3) == ""
    assert boxes_beyond([], 1) == ""
    assert boxes_beyond([9, 7, 2], 3) == "manual box on page 7, but the file has 3 pages"
    assert boxes_beyond([2], 1) == "manual box on page 2, but the file has 1 page"


def test_only_pdf_and_image_engines_paint_boxes() -> None:
    painting = {engine.format for engine in engines() if paints_boxes(engine)}
    assert painting == {"pdf", "image"}
    assert not paints_boxes(object())


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_unrotated_box_lands_where_the_display_shows_it(rotation: int) -> None:
    # Paint in the unrotated raster, turn it as a viewer does (/Rotate is clockwise), look.
    raster = Image.new("L", (300, 200), 255)
    painted = paint_boxes(raster, [unrotated(BOX, rotation)])
    shown = painted.rotate(-rotation, expand=True)
    assert unpainted_boxes(shown, [BOX]) == []
    # ... and nowhere else: the painted area is the box's area, give or take rounding.
    dark = shown.histogram()[:128]
    dark_pixels = sum(dark)
    left, top, right, bottom = BOX.pixels(shown.width, shown.height)
    assert abs(dark_pixels - (right - left) * (bottom - top)) <= (right - left) + (bottom - top) + 1


def test_unrotated_of_an_unknown_rotation_is_the_box_itself() -> None:
    assert unrotated(BOX, 0) == BOX
    assert unrotated(BOX, 45) == BOX


def test_an_unpainted_region_is_reported() -> None:
    white = Image.new("RGB", (400, 300), (255, 255, 255))
    assert unpainted_boxes(white, [BOX]) == [BOX]
    assert unpainted_boxes(paint_boxes(white, [BOX]), [BOX]) == []


def test_a_sliver_left_inside_the_box_is_reported() -> None:
    painted = paint_boxes(Image.new("L", (400, 300), 255), [BOX])
    left, top, right, bottom = BOX.pixels(400, 300)
    middle = (left + right) // 2
    painted.paste(255, (middle, top + PAINTED_EDGE, middle + 1, bottom - PAINTED_EDGE))
    assert unpainted_boxes(painted, [BOX]) == [BOX]


def test_a_box_painted_into_a_jpeg_passes_after_decoding() -> None:
    photo = Image.effect_noise((640, 480), 90).convert("RGB")
    painted = paint_boxes(photo, [BOX])
    buf = io.BytesIO()
    painted.save(buf, "JPEG", quality=92)
    decoded = Image.open(io.BytesIO(buf.getvalue()))
    assert unpainted_boxes(decoded, [BOX]) == []
    assert unpainted_boxes(photo, [BOX]) == [BOX]


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_paint_is_black_in_every_kept_mode(mode: str) -> None:
    image = Image.new(mode, (200, 100), "white")
    assert unpainted_boxes(paint_boxes(image, [BOX]), [BOX]) == []


def test_a_tiny_box_is_checked_at_its_centre() -> None:
    tiny = parse_box(1, [0.5, 0.5, 0.503, 0.503])
    image = Image.new("L", (400, 400), 255)
    assert unpainted_boxes(image, [tiny]) == [tiny]
    assert unpainted_boxes(paint_boxes(image, [tiny]), [tiny]) == []
