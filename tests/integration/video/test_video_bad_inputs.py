"""Bad videos: one-line UnsupportedFile, in bounded time, nothing left behind."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.video import engine as engine_module
from exchange.domain.redaction.video import ffmpeg
from exchange.domain.redaction.video.engine import VideoEngine
from exchange.domain.redaction.video.sniff import sniff_video
from tests.corpus import video as corpus

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)


def refused(path: Path, limits: EngineLimits = LIMITS, budget: float = 30.0) -> str:
    started = time.monotonic()
    with pytest.raises(UnsupportedFile) as info:
        VideoEngine().read(path, limits)
    assert time.monotonic() - started < budget
    message = info.value.message
    assert "\n" not in message and "Kestrel" not in message
    return message


@pytest.fixture(scope="session")
def plain_mp4(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "plain.mp4", seconds=2.0, size="320x180")


def test_truncated_mp4_without_moov(plain_mp4: Path, tmp_path: Path) -> None:
    cut = corpus.truncated(plain_mp4, tmp_path)
    assert sniff_video(cut.read_bytes()[:8192]) == "video/mp4"  # the head still looks right
    assert "truncated or damaged" in refused(cut)


def test_truncated_faststart_mp4(corpus_dir: Path, tmp_path: Path) -> None:
    # moov first: ffprobe reads the structure, the frames stop half-way.
    source = corpus.clip(corpus_dir, "faststart.mp4", seconds=4.0, size="320x180", faststart=True)
    assert "truncated" in refused(corpus.truncated(source, tmp_path))


def test_truncated_webm(corpus_dir: Path, tmp_path: Path) -> None:
    source = corpus.clip(corpus_dir, "cut.webm", seconds=4.0, size="320x180")
    assert "truncated" in refused(corpus.truncated(source, tmp_path))


def test_iso_file_without_a_picture(corpus_dir: Path) -> None:
    path = corpus.audio_only_mp4(corpus_dir)
    assert sniff_video(path.read_bytes()[:8192]) == "video/mp4"
    assert refused(path) == "the file has no video stream"


def test_m4a_and_matroska_are_not_claimed(corpus_dir: Path) -> None:
    for path in (corpus.m4a(corpus_dir), corpus.matroska(corpus_dir)):
        assert sniff_video(path.read_bytes()[:8192]) is None
        assert "not an MP4" in refused(path)


def test_frames_over_the_pixel_limit(plain_mp4: Path) -> None:
    limits = EngineLimits(ocr_languages="eng", max_image_pixels=320 * 180 - 1)
    assert "frames are too large" in refused(plain_mp4, limits)


def test_absurd_dimensions_in_the_header(plain_mp4: Path, tmp_path: Path) -> None:
    # Patch the track header and sample entry widths; ffprobe reports the SPS size,
    # so the file either stays 320x180 (fine) or is refused: never decoded at 65535 px.
    data = bytearray(plain_mp4.read_bytes())
    entry = data.find(b"avc1")
    data[entry + 28 : entry + 32] = b"\xff\xff\xff\xff"
    path = tmp_path / "wide.mp4"
    path.write_bytes(bytes(data))
    outcome: str
    try:
        outcome = str(VideoEngine().read(path, LIMITS).facts["video"]["width"])
    except UnsupportedFile as exc:
        outcome = exc.message
    assert outcome == "320" or ("\n" not in outcome and "65535" not in outcome), outcome


def test_duration_over_the_limit(plain_mp4: Path) -> None:
    assert "too long" in refused(plain_mp4, replace(LIMITS, video_max_seconds=1.0))


def test_hanging_ffprobe_is_killed(plain_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in that never answers, with a child of its own: the whole group must go.
    script = tmp_path / "ffprobe"
    pidfile = tmp_path / "child.pid"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    real = ffmpeg.tool
    monkeypatch.setattr(ffmpeg, "tool", lambda name: str(script) if name == "ffprobe" else real(name))
    monkeypatch.setattr(engine_module, "PROBE_TIMEOUT", 1.0)
    assert "took longer than 1 seconds" in refused(plain_mp4, budget=10.0)
    child = int(pidfile.read_text())
    time.sleep(0.2)
    # Gone, or a zombie waiting for a container's init to reap it: either way not running.
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_hanging_decoder_hits_the_file_deadline(
    plain_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "ffmpeg"
    script.write_text("#!/bin/sh\nexec sleep 300\n")
    script.chmod(0o755)
    real = ffmpeg.tool
    monkeypatch.setattr(ffmpeg, "tool", lambda name: str(script) if name == "ffmpeg" else real(name))
    limits = EngineLimits(ocr_languages="eng", max_seconds_per_file=2.0)
    assert "longer than the time allowed" in refused(plain_mp4, limits, budget=10.0)


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    assert refused(fifo) == "the video is not a regular file"


def test_garbage_after_a_video_head(tmp_path: Path) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(4096))
    assert "truncated or damaged" in refused(path)


def test_worker_still_reads_good_video_afterwards(plain_mp4: Path) -> None:
    document = VideoEngine().read(plain_mp4, LIMITS)
    assert document.facts["video"]["frames_sampled"] == 4
