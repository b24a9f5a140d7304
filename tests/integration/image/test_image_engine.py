"""The image engine end to end with the real detector, checked with independent tools.

Every output is read back by the ``tesseract`` CLI and ``exiftool`` as
separate processes: the customer name, part number and e-mail must be gone,
other words must survive, and no EXIF/GPS/XMP/IPTC/comment may remain
(the ICC profile must).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.image import engine as engine_module
from exchange.domain.redaction.image.engine import ImageEngine
from exchange.domain.redaction.image.ocr import ocr_image, ocr_oriented
from tests.corpus import images as corpus

ENG = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)
SECRETS = (corpus.CUSTOMER, corpus.PART, corpus.EMAIL)
POLICY = f"""
version: 1
name: image tests
terms:
  customers: ["{corpus.CUSTOMER}", "{corpus.CUSTOMER_CN}"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}'}}
recipients:
  supplier: {{redact: [CUSTOMER, PART_NUMBER, EMAIL_ADDRESS]}}
  bureau: {{redact: [PART_NUMBER], images: keep}}
"""


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(POLICY)


@pytest.fixture(scope="session")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image_corpus")


def run(
    path: Path, detector: Detector, policy: Policy, recipient: str = "supplier", limits: EngineLimits = ENG
) -> RedactionResult:
    engine = ImageEngine()
    document = engine.read(path, limits)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan(recipient))


def write(result: RedactionResult, directory: Path, name: str) -> Path:
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = directory / (name + (result.extension or ""))
    out.write_bytes(result.data)
    return out


def tesseract(path: Path, lang: str = "eng") -> str:
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", lang], check=True, capture_output=True, timeout=120
    ).stdout.decode()


def exif_tags(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", "-u", str(path)], check=True, capture_output=True, timeout=60
    ).stdout
    return json.loads(out)[0]


def assert_clean_metadata(path: Path, *, icc: bool = True) -> None:
    tags = exif_tags(path)
    groups = {key.split(":")[0] for key in tags}
    forbidden = {"IFD0", "ExifIFD", "GPS", "IFD1", "XMP-dc", "IPTC", "MakerNotes", "PNG-tEXt", "PNG-iTXt"}
    allowed_ifd0 = path.suffix in (".tif", ".tiff")
    assert not (groups & forbidden) - ({"IFD0", "IFD1"} if allowed_ifd0 else set()), sorted(groups)
    text = json.dumps(tags)
    for secret in (*SECRETS, corpus.XMP_SECRET, "KestrelCam", "52 deg"):
        assert secret not in text
    assert not any("Comment" in key for key in tags)
    if icc:
        assert any(key.startswith("ICC") for key in tags), sorted(groups)


def assert_redacted(path: Path, kept: tuple[str, ...] = corpus.KEPT) -> None:
    read = fold(tesseract(path))
    for secret in SECRETS:
        assert fold(secret) not in read
    assert "kestrel" not in read
    assert "4711" not in read
    for word in kept:
        assert fold(word) in read, read


def test_source_label_is_readable(corpus_dir: Path) -> None:
    # Without this the redaction tests below would prove nothing.
    src = corpus.png_with_text(corpus_dir, name="plain.png")
    read = tesseract(src)
    for secret in SECRETS:
        assert secret in read


@pytest.mark.parametrize(
    ("make", "suffix"),
    [
        (corpus.jpeg_with_metadata, "jpg"),
        (corpus.png_with_text, "png"),
        (corpus.webp_with_metadata, "webp"),
        (corpus.heic, "heic"),
    ],
)
def test_formats_redacted_and_stripped(  # noqa: PLR0917  (pytest passes fixtures positionally)
    make, suffix: str, corpus_dir: Path, tmp_path: Path, detector, policy
) -> None:  # type: ignore[no-untyped-def]
    src = make(corpus_dir, name=f"fmt.{suffix}")
    result = run(src, detector, policy)
    out = write(result, tmp_path, f"out.{suffix}")
    assert_redacted(out)
    assert_clean_metadata(out)
    report = json.dumps(result.report)
    assert result.report["counts"] == {"CUSTOMER": 1, "PART_NUMBER": 1, "EMAIL_ADDRESS": 1}
    assert result.report["verification"]["passed"] and not result.report["needs_review"]
    assert all(secret not in report for secret in SECRETS)
    if suffix == "heic":
        assert (result.media_type, result.extension) == ("image/jpeg", ".jpg")
        with Image.open(out) as written:
            assert written.format == "JPEG"


def test_orientation_applied_and_tag_gone(corpus_dir: Path, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    src = corpus.jpeg_with_metadata(corpus_dir, name="turned.jpg")
    with Image.open(src) as source:
        stored = source.size
    out = write(run(src, detector, policy), tmp_path, "out.jpg")
    with Image.open(out) as shown:
        assert shown.size == (stored[1], stored[0])  # upright: wider than tall
        assert shown.width > shown.height
    assert "IFD0:Orientation" not in exif_tags(out)


def test_multipage_tiff(corpus_dir: Path, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    pages = [corpus.label(), corpus.table(), corpus.label(size=34, mode="L")]
    src = corpus.tiff_pages(corpus_dir, pages)
    result = run(src, detector, policy)
    out = write(result, tmp_path, "out.tif")
    with Image.open(out) as tiff:
        assert tiff.n_frames == 3
    assert [p["status"] for p in result.report["pages"]] == ["redacted"] * 3
    assert_redacted(out)  # tesseract reads every page of a TIFF
    assert_clean_metadata(out)
    tags = exif_tags(out)
    assert not any(key.endswith((":ImageDescription", ":Artist", ":Software")) for key in tags)


def test_name_split_over_two_lines(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    image = corpus.label(("Customer: Kestrel", "Dynamics GmbH ships", "to Bremen by turbine"))
    src = tmp_path / "split.png"
    image.save(src)
    result = run(src, detector, policy)
    out = write(result, tmp_path, "out.png")
    assert result.report["counts"].get("CUSTOMER") == 1
    read = tesseract(out)
    assert "Kestrel" not in read and "Dynamics" not in read
    assert "Bremen" in read
    # Tesseract's layout analysis drops a word that sits beside a large black block,
    # so "ships" is checked in pixels: its box (read from the source) is untouched.
    (ships,) = [w.box for w in ocr_image(image, languages="eng", timeout=60).words if w.text == "ships"]
    with Image.open(out) as written:
        assert written.convert("RGB").crop(ships).tobytes() == image.convert("RGB").crop(ships).tobytes()


@pytest.mark.parametrize("angle", [0, 8, 20, 90])
def test_text_at_angles(angle: float, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / f"angle{angle}.png"
    corpus.label(angle=angle).save(src)
    result = run(src, detector, policy)
    out = write(result, tmp_path, "out.png")
    # Each pass that read the name counts it (8 degrees: upright fragments and a turned pass).
    assert result.report["counts"].get("CUSTOMER", 0) >= 1, json.dumps(result.report)
    # The independent check reads the output at the same slant, turned upright.
    upright = tmp_path / "upright.png"
    with Image.open(out) as written:
        written.rotate(-angle, expand=True, fillcolor="white").save(upright)
    assert_redacted(upright, kept=("Bremen",))


def test_low_contrast_small_text_is_flagged_for_review(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "faint.png"
    corpus.label(size=9, ink=170, paper=200).save(src)
    result = run(src, detector, policy)
    assert result.report["needs_review"], json.dumps(result.report)
    assert result.report["review_reasons"]


def test_chinese_customer(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    image = corpus.label((f"客户：{corpus.CUSTOMER_CN}", "交货地点：不来梅 turbine"), cjk=True, size=30)
    src = tmp_path / "cn.png"
    image.save(src)
    limits = EngineLimits(ocr_languages="eng+chi_sim", ocr_workers=2, ocr_timeout=120)
    result = run(src, detector, policy, limits=limits)
    out = write(result, tmp_path, "out.png")
    assert result.report["counts"].get("CUSTOMER") == 1, json.dumps(result.report, ensure_ascii=False)
    read = tesseract(out, "eng+chi_sim").replace(" ", "")
    assert "瀚海" not in read and "宁波" not in read
    assert "turbine" in read


def test_remove_and_keep_policies(corpus_dir: Path, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    src = corpus.png_with_text(corpus_dir, name="policies.png")
    engine = ImageEngine()
    document = engine.read(src, ENG)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    kept = engine.redact(document, planner.plan("bureau"))
    out = write(kept, tmp_path, "kept.png")
    assert corpus.CUSTOMER in tesseract(out)  # kept by policy
    assert_clean_metadata(out)
    assert "pixels_skipped_kept_by_policy" in kept.report["verification"]["checks"]
    assert kept.report["warnings"]
    strict = load_policy(POLICY.replace("images: keep", "images: remove"))
    planner = RecipientPlanner(detector, strict)
    planner.scan([u.text for u in document.units])
    removed = engine.redact(document, planner.plan("bureau"))
    out = write(removed, tmp_path, "removed.png")
    with Image.open(out) as written:
        assert len(written.getcolors() or []) == 1
    assert tesseract(out).strip() == ""


def test_ocr_of_the_same_pixels_is_not_repeated(
    corpus_dir: Path, detector, policy, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    src = corpus.png_with_text(corpus_dir, name="cache.png")
    engine = ImageEngine()
    document = engine.read(src, ENG)
    calls: list[int] = []
    real = engine_module.ocr_at_angles

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_module, "ocr_at_angles", counting)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    first = engine.redact(document, planner.plan("supplier"))
    second = engine.redact(document, planner.plan("supplier"))
    assert first.ok and second.ok and first.data == second.data
    assert len(calls) == 1  # the second recipient's identical pixels reuse the first OCR
    # A PNG with nothing to cover is the read pixels exactly: no new OCR at all.
    quiet = load_policy(
        POLICY.replace("redact: [CUSTOMER, PART_NUMBER, EMAIL_ADDRESS]", "redact: [PHONE_NUMBER]")
    )
    planner = RecipientPlanner(detector, quiet)
    planner.scan([u.text for u in document.units])
    plan = planner.plan("supplier")
    plan.sensitive_values.clear()
    assert engine.redact(document, plan).ok
    assert len(calls) == 1


def test_leak_withholds_the_file(corpus_dir: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    src = corpus.png_with_text(corpus_dir, name="leak.png")
    engine = ImageEngine()
    document = engine.read(src, ENG)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    plan = planner.plan("supplier")
    plan.find = lambda text: []  # a detector that misses everything
    result = engine.redact(document, plan)
    assert not result.ok and result.data is None
    assert result.report["withheld"] == "verification found redacted content in the output"
    assert corpus.CUSTOMER not in json.dumps(result.report)


def test_bad_inputs_fail_with_one_line(corpus_dir: Path, tmp_path: Path) -> None:
    engine = ImageEngine()
    cases = {
        corpus.pixel_bomb_png(tmp_path): "too large",
        corpus.truncated(
            tmp_path, corpus.jpeg_with_metadata(corpus_dir, name="cut.jpg")
        ): "truncated or damaged",
        corpus.truncated(tmp_path, corpus.png_with_text(corpus_dir, name="cut.png")): "truncated or damaged",
    }
    for path, reason in cases.items():
        with pytest.raises(UnsupportedFile) as caught:
            engine.read(path, ENG)
        assert reason in caught.value.message and "\n" not in caught.value.message
    pages = corpus.tiff_pages(tmp_path, [corpus.label(size=10)] * 3, name="many.tif")
    with pytest.raises(UnsupportedFile, match="3 frames; the limit is 2"):
        engine.read(pages, EngineLimits(ocr_languages="eng", max_pages=2))
    with pytest.raises(UnsupportedFile, match="OCR took longer than"):
        engine.read(
            corpus.png_with_text(corpus_dir, name="slow.png"),
            EngineLimits(ocr_languages="eng", ocr_timeout=0.001),
        )


def test_ocr_oriented_reads_a_quarter_turn() -> None:
    image = corpus.label(angle=90, mode="L")
    result = ocr_oriented(image, languages="eng", timeout=60, workers=2)
    assert corpus.CUSTOMER in result.text
    assert 90 in result.angles or 270 in result.angles or -270 in result.angles
