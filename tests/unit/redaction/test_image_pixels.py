"""Pure parts of the image engine: covers, margins, rotations, sniffing, metadata checks."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from exchange.domain.redaction.image.engine import sniff_image
from exchange.domain.redaction.image.metadata import encode, icc_for, metadata_left
from exchange.domain.redaction.image.ocr import OcrWord, Rotation, assemble
from exchange.domain.redaction.image.pixels import (
    MARGIN_PIXELS,
    cover,
    displayable,
    pad,
    paint,
    pixel_digest,
    placeholder,
)


def test_margin_grows_with_line_height() -> None:
    small = pad((100, 100, 200, 110))
    large = pad((100, 100, 200, 160))
    assert small[0] == 100 - MARGIN_PIXELS - 2  # 3 px + 20 % of 10 px
    assert large[1] < small[1] - 5
    assert large[2] - 200 == pytest.approx(3 + 0.2 * 60)


def test_paint_is_opaque_black_and_covers_the_margin() -> None:
    image = Image.new("RGB", (300, 100), "white")
    out = paint(image, [cover((100, 40, 200, 60), None)])
    assert out.getpixel((100 - MARGIN_PIXELS, 40 - MARGIN_PIXELS)) == (0, 0, 0)
    assert out.getpixel((150, 50)) == (0, 0, 0)
    assert out.getpixel((90, 50)) == (255, 255, 255)
    assert image.getpixel((150, 50)) == (255, 255, 255)  # the source is untouched


def test_flattening_alpha_shows_what_a_viewer_shows() -> None:
    # Transparent pixels with black colour values are white on screen; a plain
    # RGB conversion would turn them black and hide the text from OCR.
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (0, 0, 0, 255))
    flat = displayable(image)
    assert flat.mode == "RGB"
    assert flat.getpixel((0, 0)) == (255, 255, 255)
    assert flat.getpixel((5, 5)) == (0, 0, 0)
    assert flat.info == {}


@pytest.mark.parametrize(
    ("mode", "expected"), [("1", "L"), ("P", "RGB"), ("LA", "L"), ("I;16", "L"), ("CMYK", "CMYK")]
)
def test_modes_are_normalised(mode: str, expected: str) -> None:
    assert displayable(Image.new(mode, (4, 4))).mode == expected


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (2, 1))
    image.putpixel((0, 0), 1000)
    image.putpixel((1, 0), 60000)
    out = displayable(image)
    assert out.getpixel((0, 0)) == 0 and out.getpixel((1, 0)) == 255


@pytest.mark.parametrize("angle", [20, -30, 90, 180, 270])
def test_rotation_maps_a_dot_back(angle: float) -> None:
    source = Image.new("L", (200, 120), 255)
    ImageDraw.Draw(source).rectangle((40, 30, 44, 34), fill=0)
    turned = source.rotate(angle, expand=True, fillcolor=255)
    rotation = Rotation(angle, source.size, turned.size)
    box = turned.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert box is not None
    left, top, right, bottom = rotation.bounds(box)
    assert left <= 41 and top <= 31 and right >= 44 and bottom >= 34
    assert right - left < 14 and bottom - top < 14


def test_slanted_line_gets_a_slanted_cover() -> None:
    rotation = Rotation(30, (400, 300), (500, 460))
    polygon = cover((100, 200, 300, 220), rotation)
    xs = sorted(p[0] for p in polygon)
    assert len(polygon) == 4 and xs[0] != xs[1]  # not an upright rectangle


def test_span_maps_to_one_box_per_line_across_a_line_break() -> None:
    words = [
        OcrWord("Customer:", (0, 0, 90, 20), 95, (1, 1, 1)),
        OcrWord("Kestrel", (100, 0, 170, 20), 95, (1, 1, 1)),
        OcrWord("Dynamics", (0, 30, 80, 50), 95, (1, 1, 2)),
        OcrWord("GmbH", (90, 30, 140, 50), 95, (1, 1, 2)),
        OcrWord("ships", (150, 30, 200, 50), 95, (1, 1, 2)),
    ]
    result = assemble(words, (300, 60))
    assert result.text == "Customer: Kestrel\nDynamics GmbH ships"
    start = result.text.index("Kestrel")
    end = result.text.index("GmbH") + 4
    assert sorted(result.boxes_for(start, end)) == [(0, 30, 140, 50), (100, 0, 170, 20)]
    assert [b for b, _ in result.line_boxes_for(start, end)] == [(100, 0, 170, 20), (0, 30, 140, 50)]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41", None),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42mif1", None),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", None),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"%PDF-1.7", None),
        (b"plain text", None),
    ],
)
def test_sniff_by_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_image(head) == expected


def test_encoded_output_carries_no_metadata_and_is_checked() -> None:
    image = Image.new("RGB", (16, 16), "white")
    assert metadata_left(encode([image], "JPEG", None)) == []
    exif = Image.Exif()
    exif[0x013B] = "someone"
    dirty = io.BytesIO()
    image.save(dirty, "JPEG", exif=exif, comment=b"hello")
    assert metadata_left(dirty.getvalue()) == ["EXIF", "comment"]


def test_icc_profile_is_kept_only_for_its_colour_space() -> None:
    rgb_profile = b"\x00" * 16 + b"RGB " + b"\x00" * 100
    assert icc_for("RGB", rgb_profile) == rgb_profile
    assert icc_for("L", rgb_profile) is None
    assert icc_for("RGB", None) is None


def test_placeholder_is_one_colour_and_the_digest_sees_one_pixel() -> None:
    image = Image.new("RGB", (64, 64), "white")
    assert placeholder(image).getcolors() == [(64 * 64, (200, 200, 200))]
    changed = image.copy()
    changed.putpixel((63, 63), (254, 255, 255))
    assert pixel_digest(image) == pixel_digest(image.copy())
    assert pixel_digest(image) != pixel_digest(changed)
