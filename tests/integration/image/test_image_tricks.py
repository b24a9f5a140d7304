"""Images with producer tricks, built at test time, through the real engine and detector.

The files come from Pillow, ffmpeg and hand-built ICC profiles; outputs are
checked with tools that are no part of the engine: the ``tesseract`` CLI on
the output and on copies that ffmpeg thresholds or splits into channels (what
a curious recipient would do), ``exiftool`` for the profile, and raw bytes.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.image.engine import ImageEngine
from tests.corpus import images as corpus
from tests.integration.image.test_image_engine import POLICY, exif_tags

ENG = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)
NAME = corpus.CUSTOMER
PLAIN = ("Nothing to see here at all", "delivery to Bremen in May", "turbine blades, six")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


def run(path: Path, detector: Detector, policy: Policy) -> RedactionResult:
    engine = ImageEngine()
    document = engine.read(path, ENG)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan("supplier"))


def output(result: RedactionResult, tmp_path: Path, name: str) -> Path:
    assert result.ok and result.data is not None, json.dumps(result.report)
    path = tmp_path / name
    path.write_bytes(result.data)
    return path


def tesseract(path: Path) -> str:
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng"], check=True, capture_output=True, timeout=120
    ).stdout.decode()


def ffmpeg(source: Path, target: Path, *vf: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-i", str(source), *vf, str(target)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return target


def revealed(path: Path, tmp_path: Path) -> str:
    """OCR of the output as read plainly, with every non-white and non-black grey made black,
    and channel by channel: text hidden from a grey reading shows in one of them."""
    reads = [tesseract(path)]
    dark = "format=gray,lut=c0='if(between(val,30,245),0,255)'"
    reads.append(tesseract(ffmpeg(path, tmp_path / f"{path.stem}-levels.png", "-vf", dark)))
    for plane in ("r", "g", "b"):
        split = ffmpeg(
            path, tmp_path / f"{path.stem}-{plane}.png", "-vf", f"format=gbrp,extractplanes={plane}"
        )
        reads.append(tesseract(split))
    return "\n".join(reads)


def sheet(
    second: str, *, ink: int | tuple[int, int, int] = 0, band: int | tuple[int, ...] | None = None
) -> Image.Image:
    """Black "delivery to Bremen in May" and, below it, ``second`` in ``ink`` (on ``band``)."""
    image = Image.new("RGB", (900, 260), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    face = corpus.font(40)
    draw.text((20, 20), "delivery to Bremen in May", font=face, fill=(0, 0, 0))
    if band is not None:
        draw.rectangle((0, 100, 900, 200), fill=band if isinstance(band, tuple) else (band,) * 3)
    draw.text((20, 120), second, font=face, fill=ink if isinstance(ink, tuple) else (ink,) * 3)
    return image


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("light_grey.png", sheet(NAME, ink=200)),
        ("lighter_grey.png", sheet(NAME, ink=225)),
        ("dark_band.png", sheet(NAME, ink=40, band=10)),
        # red-orange on grey: both are grey 128 to Pillow's luma, plain to a viewer
        ("isoluminant.png", sheet(NAME, ink=(255, 88, 0), band=(128, 128, 128))),
    ],
)
def test_low_contrast_text_is_read_and_covered(
    name: str, image: Image.Image, tmp_path: Path, detector, policy
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / name
    image.save(source)
    assert "kestrel" in revealed(source, tmp_path).casefold()  # the name is there to be seen
    result = run(source, detector, policy)
    out = output(result, tmp_path, "out.png")
    assert result.report["counts"].get("CUSTOMER") == 1, json.dumps(result.report)
    seen = revealed(out, tmp_path)
    assert "kestrel" not in seen.casefold() and "Bremen" in seen


def _icc_with(tags: dict[bytes, bytes]) -> bytes:
    """An sRGB profile from lcms with ``tags`` replaced, rebuilt by hand (an independent producer)."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    (count,) = struct.unpack(">I", icc[128:132])
    entries = [struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    kept = [(sig, bytes(icc[off : off + size])) for sig, off, size in entries if sig not in tags]
    items = kept + list(tags.items())
    data = bytearray()
    table = []
    start = 128 + 4 + 12 * len(items)
    for sig, payload in items:
        while len(data) % 4:
            data.append(0)
        table.append(struct.pack(">4sII", sig, start + len(data), len(payload)))
        data += payload
    out = bytearray(icc[:128]) + struct.pack(">I", len(items)) + b"".join(table) + data
    out[0:4] = struct.pack(">I", len(out))
    out[84:100] = bytes(16)  # profile ID: none
    return bytes(out)


def _mluc(text: str) -> bytes:
    body = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(body), 28) + body


def test_icc_profile_texts_do_not_travel(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    icc = _icc_with({b"desc": _mluc(NAME), b"cprt": _mluc(corpus.PART)})
    source = tmp_path / "profiled.jpg"
    corpus.label().save(source, quality=92, icc_profile=icc)
    assert exif_tags(source)["ICC_Profile:ProfileDescription"] == NAME
    out = output(run(source, detector, policy), tmp_path, "out.jpg")
    tags = exif_tags(out)
    assert any(key.startswith("ICC_Profile:") for key in tags)  # a profile, a fresh one
    assert NAME not in json.dumps(tags) and corpus.PART not in json.dumps(tags)
    assert NAME.encode("utf-16-be") not in out.read_bytes()


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_icc_profile_that_darkens_near_white_is_applied_before_ocr(
    suffix: str, tmp_path: Path, detector, policy
) -> None:  # type: ignore[no-untyped-def]
    # Tone curves of gamma 40: a viewer shows grey 235 as near black, OCR of the raw pixels sees white.
    curve = b"para" + bytes(4) + struct.pack(">HHi", 0, 0, 40 * 65536)
    icc = _icc_with({b"rTRC": curve, b"gTRC": curve, b"bTRC": curve})
    source = tmp_path / f"reveal.{suffix}"
    sheet(NAME, ink=235).save(source, icc_profile=icc, **({"quality": 95} if suffix == "jpg" else {}))
    result = run(source, detector, policy)
    out = output(result, tmp_path, f"out.{suffix}")
    assert result.report["counts"].get("CUSTOMER") == 1, json.dumps(result.report)
    assert "kestrel" not in revealed(out, tmp_path).casefold()
    assert "sRGB" in str(exif_tags(out).get("ICC_Profile:ProfileDescription"))


def _frames(tmp_path: Path, name: str, **options: object) -> Path:
    plain = corpus.label(PLAIN)
    other = corpus.label(tuple(reversed(PLAIN))).resize(plain.size)  # identical frames would merge
    named = corpus.label().resize(plain.size)
    path = tmp_path / name
    plain.save(path, save_all=True, append_images=[other, named], **options)
    return path


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("third.png", {"duration": 500}),  # APNG
        ("third.webp", {"duration": 500, "lossless": True}),
        ("third.tif", {}),
    ],
)
def test_name_on_the_third_frame(
    name: str, options: dict[str, object], tmp_path: Path, detector, policy
) -> None:  # type: ignore[no-untyped-def]
    result = run(_frames(tmp_path, name, **options), detector, policy)
    out = output(result, tmp_path, f"out{Path(name).suffix}")
    assert [p["redactions"] for p in result.report["pages"]][2].get("CUSTOMER") == 1
    with Image.open(out) as written:
        assert getattr(written, "n_frames", 1) == 3
        for index in range(3):
            written.seek(index)
            frame = tmp_path / f"frame{index}.png"
            written.convert("RGB").save(frame)
            assert "kestrel" not in tesseract(frame).casefold()


@pytest.mark.parametrize("orientation", [5, 7, 8])
def test_exif_orientations_are_applied(orientation: int, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    stored = {5: Image.Transpose.TRANSPOSE, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = tmp_path / f"o{orientation}.jpg"
    label = corpus.label()
    label.transpose(stored[orientation]).save(source, quality=92, exif=exif)
    out = output(run(source, detector, policy), tmp_path, "out.jpg")
    with Image.open(out) as written:
        assert written.size == label.size
    read = tesseract(out)
    assert "Bremen" in read and "Kestrel" not in read
    assert "IFD0:Orientation" not in exif_tags(out)


def _cmyk(tmp_path: Path) -> Path:
    path = tmp_path / "cmyk.jpg"
    corpus.label().convert("CMYK").save(path, quality=92)
    return path


def _ffmpeg_format(pix_fmt: str) -> object:
    def make(tmp_path: Path) -> Path:
        base = tmp_path / "base.png"
        corpus.label().save(base)
        return ffmpeg(base, tmp_path / f"{pix_fmt}.png", "-pix_fmt", pix_fmt)

    return make


def _palette_transparency(tmp_path: Path) -> Path:
    path = tmp_path / "palette.png"
    corpus.label().convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path, transparency=0)
    return path


def _trailing(tmp_path: Path) -> Path:
    # A JPEG with a ZIP appended (a polyglot) and a PNG with text after IEND.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("secret.txt", NAME)
    path = tmp_path / "polyglot.jpg"
    buffer = io.BytesIO()
    corpus.label().save(buffer, "JPEG", quality=92)
    path.write_bytes(buffer.getvalue() + archive.getvalue())
    return path


def _after_iend(tmp_path: Path) -> Path:
    path = tmp_path / "after.png"
    corpus.label().save(path)
    path.write_bytes(path.read_bytes() + NAME.encode())
    return path


@pytest.mark.parametrize(
    "make",
    [
        _cmyk,
        _ffmpeg_format("gray16be"),
        _ffmpeg_format("rgb48be"),
        _ffmpeg_format("pal8"),
        _palette_transparency,
        _trailing,
        _after_iend,
    ],
    ids=["cmyk", "grey16", "rgb48", "pal8", "palette-trns", "zip-polyglot", "after-iend"],
)
def test_unusual_encodings_are_redacted(make, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    source = make(tmp_path)
    out = output(run(source, detector, policy), tmp_path, f"out{source.suffix}")
    read = tesseract(out)
    assert "Bremen" in read and "Kestrel" not in read and "KD-4711" not in read
    raw = out.read_bytes()
    assert NAME.encode() not in raw and b"PK\x03\x04" not in raw


def test_text_under_full_transparency_is_not_kept(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    # Black ink with alpha 0 spells the name: a viewer on white shows nothing, another
    # compositing (alpha ignored) shows it. The output must not carry it at all.
    named = corpus.label().convert("L")
    visible = corpus.label(("delivery to Bremen in May",)).convert("L").resize(named.size)
    alpha = named.point(lambda v: 0 if v < 128 else 255)
    colour = Image.composite(
        Image.new("L", named.size, 0), visible, named.point(lambda v: 255 if v < 128 else 0)
    )
    source = tmp_path / "alpha.png"
    Image.merge("RGBA", [colour, colour, colour, alpha]).save(source)
    with Image.open(source) as check:
        ignored = tmp_path / "no-alpha.png"
        check.convert("RGB").save(ignored)
    assert "Kestrel" in tesseract(ignored)  # the trick works on the input
    out = output(run(source, detector, policy), tmp_path, "out.png")
    with Image.open(out) as written:
        assert "A" not in written.mode
    assert "Kestrel" not in tesseract(out) and "Bremen" in tesseract(out)


def test_huge_webp_is_refused(tmp_path: Path) -> None:
    # A multi-picture JPEG (MPO) is accepted now: see test_image_mpo.py.
    huge = tmp_path / "huge.webp"
    Image.new("L", (16000, 16000), 255).save(huge, lossless=True)
    with pytest.raises(UnsupportedFile, match="too large"):
        ImageEngine().read(huge, ENG)
