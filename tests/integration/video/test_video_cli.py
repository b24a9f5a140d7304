"""`exchange redact` on a video as a user runs it: the input lives outside the sandbox's directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import video as corpus

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
POLICY = f"""version: 1
name: cli video
terms: {{customers: ["{corpus.CUSTOMER}"]}}
recipients: {{supplier: {{redact: [CUSTOMER]}}}}
"""


def test_redact_writes_a_clean_video_next_to_nothing(tmp_path: Path) -> None:
    source = corpus.clip(tmp_path, "line.mp4", seconds=4.0, size="480x270")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "EXCHANGE_OCR_LANGUAGES": "eng", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "exchange", "redact", str(source), "--policy", str(policy)]
    done = subprocess.run(
        [*argv, "--recipient", "supplier", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # The engine worked in the sandbox's own directory, not beside the user's file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.mp4", "out", "policy.yaml"]
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(out / "line.mp4")],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )
    assert [s["codec_type"] for s in probe["streams"]] == ["video"]
    tags = {k.casefold() for k in probe["format"].get("tags", {})}
    assert not {t for t in tags if "location" in t or "creation" in t}, tags
    assert corpus.LOCATION not in json.dumps(probe)
    frame = tmp_path / "frame.png"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-ss", "2", "-i", str(out / "line.mp4"), "-vframes", "1", frame],
        check=True,
        timeout=60,
    )
    read = subprocess.run(["tesseract", str(frame), "stdout"], capture_output=True, check=True, timeout=60)
    assert "kestrel" not in read.stdout.decode().casefold()
