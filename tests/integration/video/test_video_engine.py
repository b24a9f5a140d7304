"""The video engine end to end with the real detector, checked with independent tools.

Every output is read back by ``ffprobe`` and ``exiftool`` (no audio, data,
subtitle or picture streams; no location, creation date, make or title) and
by ``tesseract`` on frames ``ffmpeg`` extracts at its own rate and offset: the
customer name must be gone from every frame, the harmless line must be in
every frame, including those where the name was shown next to it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.planner import RecipientPlan, RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.redaction import registry
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.video import engine as engine_module
from exchange.domain.redaction.video.engine import VideoDocument, VideoEngine
from tests.corpus import video as corpus

from .conftest import CHECK_FPS, CHECK_OFFSET, exiftool, ffprobe, finder, frames, tesseract, write

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)
POLICY = f"""
version: 1
name: video tests
terms:
  customers: ["{corpus.CUSTOMER}"]
recipients:
  supplier: {{redact: [CUSTOMER]}}
  bureau: {{redact: [CUSTOMER], videos: exclude}}
"""


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(POLICY)


@pytest.fixture(scope="session")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture(scope="session")
def mp4(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "line.mp4", subtitles=True, timecode=True, cover=True)


@pytest.fixture(scope="session")
def webm(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "line.webm", subtitles=True)


@pytest.fixture(scope="session")
def mov(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "line.mov", timecode=True, seconds=3.0)


@pytest.fixture(scope="session")
def moving(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "crawl.mp4", moving=True, audio=False, seconds=3.0)


@pytest.fixture(scope="session")
def mp4_document(mp4: Path) -> VideoDocument:
    document = VideoEngine().read(mp4, LIMITS)
    assert isinstance(document, VideoDocument)
    return document


def planned(document: VideoDocument, detector: Detector, policy: Policy, recipient: str) -> RecipientPlan:
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return planner.plan(recipient)


def run(path: Path, detector: Detector, policy: Policy, recipient: str = "supplier") -> RedactionResult:
    engine = VideoEngine()
    document = engine.read(path, LIMITS)
    assert isinstance(document, VideoDocument)
    return engine.redact(document, planned(document, detector, policy, recipient))


def frame_texts(path: Path, directory: Path) -> list[tuple[float, str]]:
    return [
        (CHECK_OFFSET + index / CHECK_FPS, fold(tesseract(frame)))
        for index, frame in enumerate(frames(path, directory))
    ]


def assert_name_gone_and_line_kept(path: Path, directory: Path) -> None:
    texts = frame_texts(path, directory)
    assert len(texts) >= 10
    for moment, text in texts:
        assert "kestrel" not in text, moment
        assert "dynamics" not in text, moment
        assert fold(corpus.HARMLESS) in text, (moment, text)


def assert_clean_container(path: Path) -> None:
    data = ffprobe(path)
    assert [s["codec_type"] for s in data["streams"]] == ["video"]
    assert not data.get("chapters")
    tags = {**data["format"].get("tags", {}), **data["streams"][0].get("tags", {})}
    for key in ("location", "creation_time", "title", "comment", "timecode", "make", "model"):
        assert not any(key in k.lower() for k in tags), tags
    text = json.dumps(data)
    for secret in ("Kestrel", "52.52", "2024", corpus.MAKE):
        assert secret not in text
    meta = exiftool(path)
    for secret in ("GPS", "Kestrel", "2024", "Location", "Creation", "Make", "Text "):
        assert secret not in meta, secret
    assert "Audio" not in meta and "Sound" not in meta


def test_source_clip_shows_the_name_and_carries_its_metadata(mp4: Path, corpus_dir: Path) -> None:
    # Without this the redaction tests below would prove nothing.
    texts = frame_texts(mp4, corpus_dir / "source-frames")
    shown = [t for moment, t in texts if corpus.SHOWN[0] + 0.05 < moment < corpus.SHOWN[1] - 0.05]
    assert shown and all("kestrel dynamics" in t for t in shown)
    kinds = sorted(s["codec_type"] for s in ffprobe(mp4)["streams"])
    assert kinds == ["audio", "data", "data", "subtitle", "video", "video"]
    meta = exiftool(mp4)
    assert "GPS" in meta and "Kestrel" in meta


def test_registry_sends_videos_to_the_video_engine(mp4: Path, webm: Path, mov: Path) -> None:
    for path, media_type in ((mp4, "video/mp4"), (webm, "video/webm"), (mov, "video/quicktime")):
        found = registry.sniff(path.read_bytes()[:8192])
        assert found is not None
        assert found[0] == media_type
        assert isinstance(found[1], VideoEngine)


def test_read_samples_frames_and_metadata(mp4_document: VideoDocument) -> None:
    document = mp4_document
    assert document.sample_times[:3] == [0.0, 0.5, 1.0]
    assert len(document.ocr) == 8
    ocr_units = [u for u in document.units if u.source == "ocr"]
    assert [u.page for u in ocr_units] == list(range(1, 9))
    with_name = [u.page for u in ocr_units if "Kestrel Dynamics GmbH" in u.text]
    assert with_name and min(with_name) >= 3 and max(with_name) <= 7  # shown from 1 s to 3 s
    metadata = " ".join(u.text for u in document.units if u.source == "metadata")
    assert "Kestrel Dynamics GmbH visit" in metadata  # the title is read, so the review shows it
    assert document.facts["video"]["frames_sampled"] == 8


def test_mp4_redacted_for_supplier(
    mp4_document: VideoDocument, detector: Detector, policy: Policy, corpus_dir: Path
) -> None:
    result = VideoEngine().redact(mp4_document, planned(mp4_document, detector, policy, "supplier"))
    out = write(result, corpus_dir, "line-supplier")
    assert result.media_type == "video/mp4"
    report = result.report
    assert report["ok"] and report["verification"]["passed"]
    assert report["audio"] == "removed"
    assert "audio removed: speech cannot be checked" in report["warnings"]
    assert report["streams_removed"] == {"audio": 1, "subtitle": 1, "data": 2, "attachment": 1}
    assert report["counts"]["CUSTOMER"] >= 3
    assert report["boxes_drawn"] >= 1
    starts = [s for s, _ in report["time_spans"]]
    ends = [e for _, e in report["time_spans"]]
    assert min(starts) <= corpus.SHOWN[0] - 0.5 and max(ends) >= corpus.SHOWN[1]
    assert "Kestrel" not in json.dumps(report)
    # The engine's private working files (filter script, output) are gone from the job directory.
    assert not list(mp4_document.path.parent.glob(".video-*"))
    assert_clean_container(out)
    assert_name_gone_and_line_kept(out, corpus_dir / "mp4-frames")


def test_webm_redacted_as_vp9(webm: Path, detector: Detector, policy: Policy, corpus_dir: Path) -> None:
    result = run(webm, detector, policy)
    out = write(result, corpus_dir, "line-webm-supplier")
    assert result.media_type == "video/webm" and result.extension == ".webm"
    data = ffprobe(out)
    assert data["streams"][0]["codec_name"] == "vp9"
    assert_clean_container(out)
    assert_name_gone_and_line_kept(out, corpus_dir / "webm-frames")


def test_quicktime_location_and_make_are_dropped(
    mov: Path, detector: Detector, policy: Policy, corpus_dir: Path
) -> None:
    assert "GPS" in exiftool(mov) and corpus.MAKE in exiftool(mov)
    result = run(mov, detector, policy)
    out = write(result, corpus_dir, "line-mov-supplier")
    assert result.media_type == "video/mp4"
    assert_clean_container(out)
    assert_name_gone_and_line_kept(out, corpus_dir / "mov-frames")


def test_crawling_name_is_covered_all_the_way(
    moving: Path, detector: Detector, policy: Policy, corpus_dir: Path
) -> None:
    result = run(moving, detector, policy)
    out = write(result, corpus_dir, "crawl-supplier")
    assert result.report["audio"] == "none"
    assert_name_gone_and_line_kept(out, corpus_dir / "crawl-frames")


def test_excluded_for_bureau(mp4_document: VideoDocument, detector: Detector, policy: Policy) -> None:
    result = VideoEngine().redact(mp4_document, planned(mp4_document, detector, policy, "bureau"))
    assert result.ok and result.data is None
    assert result.excluded == "videos: exclude"
    assert result.report["excluded"] == "videos: exclude"


def test_images_remove_writes_black_video(mp4_document: VideoDocument, corpus_dir: Path) -> None:
    plan = RecipientPlan("supplier", finder(corpus.CUSTOMER), [corpus.CUSTOMER], images="remove")
    result = VideoEngine().redact(mp4_document, plan)
    out = write(result, corpus_dir, "line-removed")
    assert "black_frames" in result.report["verification"]["checks"]
    assert_clean_container(out)
    duration = float(ffprobe(out)["format"]["duration"])
    assert abs(duration - 4.0) < 0.2
    from PIL import Image

    for frame in frames(out, corpus_dir / "removed-frames"):
        with Image.open(frame) as image:
            assert max(image.convert("L").getextrema()) <= 24  # type: ignore[operator]


def test_images_keep_leaves_pixels_but_strips_the_rest(mp4_document: VideoDocument, corpus_dir: Path) -> None:
    plan = RecipientPlan("supplier", finder(corpus.CUSTOMER), [corpus.CUSTOMER], images="keep")
    result = VideoEngine().redact(mp4_document, plan)
    out = write(result, corpus_dir, "line-kept")
    assert result.report["boxes_drawn"] == 0
    assert "pixels_skipped_kept_by_policy" in result.report["verification"]["checks"]
    assert_clean_container(out)
    shown = [t for moment, t in frame_texts(out, corpus_dir / "kept-frames") if 1.2 < moment < 2.8]
    assert any("kestrel dynamics" in t for t in shown)


def test_verification_withholds_when_covers_miss(
    mp4_document: VideoDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Draw nothing: the verifier's own OCR of the output must find the name and withhold.
    monkeypatch.setattr(engine_module, "plan_covers", lambda *a, **k: [])
    plan = RecipientPlan("supplier", finder(corpus.CUSTOMER), [corpus.CUSTOMER])
    result = VideoEngine().redact(mp4_document, plan)
    assert not result.ok and result.data is None
    assert result.report["withheld"] == "verification found redacted content in the output"
    assert result.report["verification"]["leaks"]
    assert corpus.CUSTOMER in result.leaks
    assert "Kestrel" not in json.dumps(result.report)


def test_verification_withholds_when_ocr_cannot_run(mp4_document: VideoDocument) -> None:
    # A real Tesseract run that cannot finish in time: the verifier must withhold, not pass.
    document = VideoDocument(**{f: getattr(mp4_document, f) for f in VideoDocument.__dataclass_fields__})
    document.ocr_cache = {}  # nothing cached: the verifier must run OCR and fail
    document.limits = dataclasses.replace(LIMITS, ocr_timeout=0.001)
    plan = RecipientPlan("supplier", finder(corpus.CUSTOMER), [corpus.CUSTOMER])
    result = VideoEngine().redact(document, plan)
    assert not result.ok and result.data is None
    assert result.report["withheld"] == "verification could not run: OCR took longer than 0.001 seconds"
