"""Fixtures and independent checkers for the video tests.

Outputs are checked with tools other than the engine's own reading:
``ffprobe`` (streams, tags), ``exiftool -ee`` (every atom and embedded track)
and frames extracted by ``ffmpeg`` at a rate and offset neither the engine's
reading (2/s from 0) nor its verification (3/s from 1/12 s) uses, read by the
``tesseract`` CLI as separate processes.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.base import RedactionResult

#: the independent check's sampling: 5 frames per second from 0.1 s
CHECK_FPS = 5
CHECK_OFFSET = 0.1


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video_corpus")


def finder(*names: str, entity: str = "CUSTOMER") -> Callable[[str], Sequence[Redaction]]:
    """A stand-in for the detector where detection is not what a test is about."""
    compiled = [re.compile(r"\s*".join(re.escape(w) for w in n.split()), re.IGNORECASE) for n in names]

    def find(text: str) -> Sequence[Redaction]:
        return [Redaction(m.start(), m.end(), entity, None) for rx in compiled for m in rx.finditer(text)]

    return find


def write(result: RedactionResult, directory: Path, name: str) -> Path:
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = directory / f"{name}{result.extension}"
    out.write_bytes(result.data)
    return out


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-show_chapters",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def exiftool(path: Path) -> str:
    return subprocess.run(
        ["exiftool", "-ee", "-G3", "-a", "-u", str(path)], check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8", "replace")


def frames(
    path: Path, directory: Path, *, fps: float = CHECK_FPS, offset: float = CHECK_OFFSET
) -> list[Path]:
    """PNG frames at ``fps`` from ``offset`` seconds; frame k shows time offset + k / fps."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(offset), "-i", str(path),
            "-vf", f"fps={fps}", str(directory / "%04d.png"),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return sorted(directory.glob("*.png"))


def tesseract(path: Path) -> str:
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng"], check=True, capture_output=True, timeout=120
    ).stdout.decode()
