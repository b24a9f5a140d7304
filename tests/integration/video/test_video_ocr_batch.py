"""Batched OCR of video frames: a reader kept loaded for many frames must read what one run per frame reads.

The frames are real decoded samples of generated clips, read by the real
``tesseract``; the per-frame reading (:func:`ocr_image`, one process per
frame, as the engine did before batching) is the reference.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.image.ocr import OcrResult, ocr_batch, ocr_image, split_pages
from exchange.domain.redaction.video import ffmpeg
from exchange.domain.redaction.video.engine import (
    BATCH_FRAMES,
    BATCH_PIXELS,
    VideoDocument,
    VideoEngine,
    batch_size,
)
from tests.corpus import video as corpus

from .conftest import finder

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)


@pytest.fixture(scope="module")
def crawl(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "batch-crawl.mp4", moving=True, audio=False, seconds=3.0)


@pytest.fixture(scope="module")
def still(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "batch-still.mp4", audio=False)


def sampled(path: Path, fps: float = 2.0) -> list[Image.Image]:
    stream = ffmpeg.FrameStream(
        path,
        demuxer="mov",
        stream_index=0,
        size=(640, 360),
        fps=fps,
        offset=0.0,
        deadline=time.monotonic() + 120,
        memory=ffmpeg.memory_limit(640 * 360),
    )
    return [Image.frombytes("L", (640, 360), raw) for raw in stream]


def words(result: OcrResult) -> list[tuple[str, tuple[int, int, int, int], tuple[int, int, int]]]:
    return [(w.text, w.box, w.line) for w in result.words]


def confidences(result: OcrResult) -> list[float]:
    return [w.confidence for w in result.words]


@pytest.mark.parametrize("languages", ["eng", "eng+chi_sim"])
def test_a_batch_reads_each_frame_as_the_tesseract_program_reads_it(crawl: Path, languages: str) -> None:
    images = sampled(crawl)
    # A blank frame and a smaller one in the middle: pages of a batch need not look alike.
    images[2:2] = [Image.new("L", (640, 360), 255), images[0].crop((0, 40, 500, 300))]
    alone = [ocr_image(image, languages=languages, timeout=60) for image in images]
    together = ocr_batch(images, languages=languages, timeout=60)
    assert len(together) == len(images)
    # The in-process library and the program on PATH may be different Tesseract builds: the same
    # models, page segmentation and resolution must give the same words in the same places;
    # only the confidences may move a little between builds.
    assert [words(r) for r in together] == [words(r) for r in alone]
    assert [r.text for r in together] == [r.text for r in alone]
    for mine, theirs in zip(together, alone, strict=True):
        assert confidences(mine) == pytest.approx(confidences(theirs), abs=5)
    assert [r.size for r in together] == [i.size for i in images]
    assert together[2].words == []
    # Without this the comparison could pass on frames nobody can read.
    assert sum(corpus.CUSTOMER in r.text for r in together) >= 4


def test_a_reused_reader_carries_nothing_from_frame_to_frame(crawl: Path) -> None:
    images = sampled(crawl)
    forwards = ocr_batch(images, languages="eng", timeout=60)
    backwards = [ocr_batch([image], languages="eng", timeout=60)[0] for image in reversed(images)]
    backwards.reverse()
    assert [(words(r), confidences(r)) for r in forwards] == [(words(r), confidences(r)) for r in backwards]


def test_engine_reading_equals_per_frame_reading(crawl: Path) -> None:
    document = VideoEngine().read(crawl, LIMITS)
    assert isinstance(document, VideoDocument)
    reference = [ocr_image(image, languages="eng", timeout=60) for image in sampled(crawl)]
    assert len(document.ocr) == len(reference) == 6
    assert [words(r) for r in document.ocr] == [words(r) for r in reference]


def test_a_missing_or_misplaced_page_fails_closed(crawl: Path, tmp_path: Path) -> None:
    images = sampled(crawl)[:2]
    tiff = tmp_path / "two.tif"
    images[0].save(tiff, format="TIFF", save_all=True, append_images=images[1:])
    tsv = subprocess.run(
        ["tesseract", str(tiff), "stdout", "-l", "eng", "--dpi", "300", "tsv"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    assert len(split_pages(tsv, [(640, 360), (640, 360)])) == 2
    with pytest.raises(UnsupportedFile):
        split_pages(tsv, [(640, 360), (640, 360), (640, 360)])  # a page never read
    with pytest.raises(UnsupportedFile):
        split_pages(tsv, [(640, 360), (320, 180)])  # a reading of another image
    with pytest.raises(UnsupportedFile):
        split_pages(tsv, [(640, 360)])  # more pages than images


def test_a_failed_batch_fails_the_reading(crawl: Path) -> None:
    limits = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=0.001)
    with pytest.raises(UnsupportedFile, match="OCR took longer"):
        VideoEngine().read(crawl, limits)


def test_batches_are_bounded_and_spread_over_workers() -> None:
    assert BATCH_FRAMES == 4
    assert batch_size((640, 360), expected=20, workers=2) == 4
    assert batch_size((640, 360), expected=3, workers=8) == 1
    assert batch_size((640, 360), expected=6, workers=2) == 3  # one round of two even batches
    # Rounds of one batch per worker, of about equal size (10 frames: 3, 3, 3, 1 rather than 4, 4, 2).
    assert batch_size((640, 360), expected=10, workers=2) == 3
    assert batch_size((640, 360), expected=180, workers=2) == 4
    assert batch_size((640, 360), expected=1201, workers=2) <= BATCH_FRAMES
    assert batch_size((640, 360), expected=100_000, workers=2) == BATCH_FRAMES
    assert batch_size((1920, 1080), expected=1201, workers=2) <= BATCH_PIXELS // (1920 * 1080)
    assert batch_size((12000, 10000), expected=600, workers=2) == 1


def test_reused_readings_are_boxed_like_fresh_ones(still: Path) -> None:
    document = VideoEngine().read(still, LIMITS)
    assert isinstance(document, VideoDocument)
    # The still clip repeats identical frames: some samples carry an earlier sample's reading.
    reused = [n for n, r in enumerate(document.ocr) if any(r is e for e in document.ocr[:n])]
    named = [n for n in reused if corpus.CUSTOMER in document.ocr[n].text]
    assert named, [r.text for r in document.ocr]
    assert document.facts["video"]["frames_ocr_run"] < document.facts["video"]["frames_sampled"]
    plan = RecipientPlan("supplier", finder(corpus.CUSTOMER), [corpus.CUSTOMER])
    result = VideoEngine().redact(document, plan)
    assert result.ok, result.report
    boxed_pages = {p["page"] for p in result.report["pages"] if p["boxes"]}
    assert {n + 1 for n in named} <= boxed_pages
    for n in named:
        moment = document.sample_times[n]
        assert any(start <= moment <= end for start, end in result.report["time_spans"]), moment
