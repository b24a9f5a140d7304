"""The applicant's manual boxes on images: painted where the applicant saw them, and verified.

The applicant draws on the picture as a viewer shows it, after EXIF
orientation. The boxes here are placed on the upright label the corpus drew
(before it was stored turned), located by the ``tesseract`` CLI, so a box
painted in the stored orientation would miss. Outputs are read back by
Tesseract and exiftool as separate processes and decoded afresh for the
pixels under each box.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.review import MANUAL, ManualBox, build_review, parse_box
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.image.engine import ImageEngine
from tests.corpus import images as corpus

ENG = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)
POLICY = f"""
version: 1
name: manual boxes on images
terms:
  customers: ["{corpus.CUSTOMER}"]
recipients:
  supplier: {{redact: [CUSTOMER]}}
  bureau: {{redact: [CUSTOMER], images: keep}}
"""
REMOVING = POLICY.replace("images: keep", "images: remove")
#: JPEG at quality 92 leaves a few grey levels of ringing inside a black block
NEAR_BLACK = 60


class _NoNer:
    """No NER model: the declared customer is all these tests need detected."""

    def analyze_many(self, texts: Any, entities: Any) -> list[list[Any]]:
        return [[] for _ in texts]


def _redact(
    path: Path, *boxes: ManualBox, recipient: str = "supplier", policy_text: str = POLICY
) -> RedactionResult:
    policy = load_policy(policy_text)
    review = build_review([], [([recipient], box) for box in boxes])
    planner = RecipientPlanner(Detector(policy, engine=_NoNer()), policy, review=review)  # type: ignore[arg-type]
    engine = ImageEngine()
    document = engine.read(path, ENG)
    with Image.open(path) as opened:
        assert document.facts["page_count"] == getattr(opened, "n_frames", 1)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan(recipient))


def _written(result: RedactionResult, tmp: Path, name: str) -> Path:
    assert result.ok, json.dumps(result.report)[:2000]
    assert result.data is not None
    out = tmp / (name + (result.extension or ""))
    out.write_bytes(result.data)
    return out


def _tesseract(image: Image.Image, tmp: Path, *extra: str) -> str:
    path = tmp / "ocr.png"
    image.save(path)
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng", *extra], check=True, capture_output=True, timeout=120
    ).stdout.decode()


def _word_box(image: Image.Image, word: str, tmp: Path, pad: int = 4) -> list[float]:
    """Fractions of ``image`` around the first word Tesseract reads as ``word``."""
    for line in _tesseract(image, tmp, "tsv").splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) == 12 and cells[11].strip().strip(".,;:") == word:
            left, top, width, height = map(int, cells[6:10])
            return [
                max(0.0, (left - pad) / image.width),
                max(0.0, (top - pad) / image.height),
                min(1.0, (left + width + pad) / image.width),
                min(1.0, (top + height + pad) / image.height),
            ]
    raise AssertionError(f"{word!r} not read on the source")


def _frames(path: Path) -> list[Image.Image]:
    with Image.open(path) as image:
        out = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            out.append(image.convert("RGB"))
        return out


def _brightest(image: Image.Image, box: ManualBox, edge: int) -> int:
    left, top, right, bottom = box.pixels(image.width, image.height)
    region = image.convert("RGB").crop((left + edge, top + edge, right - edge, bottom - edge))
    assert region.width > 0 and region.height > 0
    return max(int(hi) for _, hi in region.getextrema())  # type: ignore[misc]


def _orientation(path: Path) -> object:
    out = subprocess.run(
        ["exiftool", "-j", "-n", "-Orientation", str(path)], check=True, capture_output=True, timeout=60
    ).stdout
    return json.loads(out)[0].get("Orientation")


def _oriented_png(directory: Path, upright: Image.Image) -> Path:
    """A PNG whose pixels are stored turned 90 degrees clockwise; EXIF orientation 8 turns them back."""
    path = directory / "turned.png"
    upright.transpose(Image.Transpose.ROTATE_270).save(path, "PNG", exif=corpus.camera_exif(orientation=8))
    return path


def test_png_box_is_painted_and_the_rest_stays(tmp_path: Path) -> None:
    upright = corpus.label()
    src = corpus.png_with_text(tmp_path, upright)
    box = parse_box(1, _word_box(upright, "Bremen", tmp_path))
    result = _redact(src, box)
    out = _written(result, tmp_path, "out.png")
    (page,) = result.report["pages"]
    assert page["manual_boxes"] == 1 and page["redactions"][MANUAL] == 1
    assert result.report["counts"][MANUAL] == 1
    assert "manual_boxes_solid" in result.report["verification"]["checks"]
    (frame,) = _frames(out)
    assert _brightest(frame, box, edge=0) == 0  # lossless: exactly black, edge to edge
    read = _tesseract(frame, tmp_path)
    assert "Bremen" not in read
    assert "turbine" in read and "delivery" in read
    assert fold(corpus.CUSTOMER) not in fold(read)


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_box_follows_exif_orientation(kind: str, tmp_path: Path) -> None:
    upright = corpus.label()
    src = corpus.jpeg_with_metadata(tmp_path, upright) if kind == "jpeg" else _oriented_png(tmp_path, upright)
    assert _orientation(src) in (6, 8)
    with Image.open(src) as stored:
        assert stored.size == (upright.height, upright.width)  # really stored turned
    box = parse_box(1, _word_box(upright, "Bremen", tmp_path))
    out = _written(_redact(src, box), tmp_path, f"out.{kind}")
    assert _orientation(out) is None
    (frame,) = _frames(out)
    assert frame.size == upright.size
    assert _brightest(frame, box, edge=3) <= NEAR_BLACK
    read = _tesseract(frame, tmp_path)
    assert "Bremen" not in read
    assert "turbine" in read and "delivery" in read


def test_tiff_box_on_the_second_frame_only(tmp_path: Path) -> None:
    first = corpus.label(("Invoice for the turbine", "delivery to Bremen in May"))
    second = corpus.label(("Packing list for the housing", "delivery to Bremen in June"))
    src = corpus.tiff_pages(tmp_path, [first, second])
    box = parse_box(2, _word_box(second, "Bremen", tmp_path))
    result = _redact(src, box)
    out = _written(result, tmp_path, "out.tif")
    assert [p.get("manual_boxes", 0) for p in result.report["pages"]] == [0, 1]
    one, two = _frames(out)
    assert _brightest(two, box, edge=0) == 0
    assert _brightest(one, ManualBox(1, box.box), edge=0) > NEAR_BLACK  # frame 1 was not boxed
    assert "Bremen" in _tesseract(one, tmp_path)
    read = _tesseract(two, tmp_path)
    assert "Bremen" not in read and "housing" in read


def test_images_kept_by_policy_still_get_the_box(tmp_path: Path) -> None:
    upright = corpus.label()
    src = corpus.png_with_text(tmp_path, upright)
    box = parse_box(1, _word_box(upright, "Bremen", tmp_path))
    result = _redact(src, box, recipient="bureau")
    (frame,) = _frames(_written(result, tmp_path, "kept.png"))
    assert _brightest(frame, box, edge=0) == 0
    read = _tesseract(frame, tmp_path)
    assert "Bremen" not in read
    assert fold(corpus.CUSTOMER) in fold(read)  # images: keep leaves the rest as drawn
    assert result.report["counts"] == {MANUAL: 1}


def test_removed_images_count_the_box(tmp_path: Path) -> None:
    src = corpus.png_with_text(tmp_path)
    result = _redact(src, parse_box(1, [0.1, 0.1, 0.5, 0.5]), recipient="bureau", policy_text=REMOVING)
    (frame,) = _frames(_written(result, tmp_path, "removed.png"))
    assert len(set(frame.getextrema())) == 1  # one solid colour: nothing of the picture is left
    assert result.report["counts"][MANUAL] == 1


@pytest.mark.parametrize(
    ("frames", "page", "reason"),
    [
        (1, 2, "manual box on page 2, but the file has 1 page"),
        (2, 3, "manual box on page 3, but the file has 2 pages"),
    ],
)
def test_box_beyond_the_last_frame_withholds(frames: int, page: int, reason: str, tmp_path: Path) -> None:
    pages = [corpus.label(("delivery to Bremen",), size=20)] * frames
    src = corpus.tiff_pages(tmp_path, pages) if frames > 1 else corpus.png_with_text(tmp_path, pages[0])
    result = _redact(src, parse_box(page, [0.1, 0.1, 0.5, 0.5]))
    assert not result.ok and result.data is None
    assert result.report["withheld"] == reason
