"""Footage through the real stack: a clip uploaded by the API, processed by a real worker, sealed, opened.

The worker reads the clip in its sandboxed child with the in-process OCR
reader; what the supplier opens is checked by tools other than ours: ffprobe
for streams and tags, exiftool with embedded-data extraction, and the
Tesseract program on frames that FFmpeg extracts from the bundled file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Stack
from tests.corpus import video
from tests.functional.test_api_flow import auth, supplier_bundle, upload, wait_for
from tests.seed import World, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.sqlite_only]

POLICY = f"""
version: 1
name: footage
terms:
  customers: ["{video.CUSTOMER}"]
recipients:
  bureau:
    redact: [CUSTOMER]
  supplier:
    redact: [CUSTOMER]
"""


def frames_text(clip: Path, work: Path) -> list[str]:
    """Tesseract's reading of every 4th frame (6.25 per second, unlike the engine's rates)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(clip), "-vf", "select=not(mod(n\\,4))",
         "-vsync", "vfr", str(work / "f%03d.png")],
        check=True, timeout=120,
    )  # fmt: skip
    texts = []
    for frame in sorted(work.glob("f*.png")):
        done = subprocess.run(
            ["tesseract", str(frame), "stdout", "-l", "eng"], capture_output=True, check=True, timeout=60
        )
        texts.append(" ".join(done.stdout.decode("utf-8", "replace").split()))
    return texts


def test_a_clip_is_redacted_in_the_bundle(stack: Stack, client: FlaskClient, tmp_path: Path) -> None:
    world: World = seed_world(stack.settings)
    app_h = auth(world.applicant.token)
    source = video.clip(tmp_path, "line-tour.mp4", seconds=3.0)
    case_id = new_case(client, world, "Footage", POLICY)
    upload(client, world, case_id, source.name, source.read_bytes())

    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h).status_code == 202
    review = wait_for(client, case_id, world.applicant.token, "review", stack=stack, timeout=400)
    (entry,) = review["files"]
    assert entry["media_type"] == "video/mp4"
    assert entry["status"] == "processed", entry
    for recipient in ("supplier", "bureau"):
        output = entry["outputs"][recipient]
        assert output["status"] == "ok", output
        assert output["report"]["verification"]["passed"], output["report"]
        assert output["report"]["audio"] == "removed"
    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "sealed", stack=stack, timeout=200)

    members = supplier_bundle(client, world)
    manifest = json.loads(members["manifest.json"])
    (bundled,) = manifest["files"]
    out = tmp_path / "out.mp4"
    out.write_bytes(members["files/" + bundled["name"]])

    probe: dict[str, Any] = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-show_chapters",
             "-of", "json", str(out)],
            capture_output=True, check=True, timeout=60,
        ).stdout
    )  # fmt: skip
    assert [s["codec_type"] for s in probe["streams"]] == ["video"]  # audio and data tracks gone
    assert not probe.get("chapters")
    exif = subprocess.run(
        ["exiftool", "-ee", "-a", "-G1", "-j", str(out)], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    for leftover in (video.MAKE, "52.52", "Kestrel"):
        assert leftover not in exif, leftover
    assert b"Kestrel" not in out.read_bytes()

    (tmp_path / "frames").mkdir()
    texts = frames_text(out, tmp_path / "frames")
    assert texts and not any("kestrel" in t.casefold() for t in texts), texts
    # The rest of the picture survives: the harmless caption is still read on most frames.
    assert sum(video.HARMLESS.casefold() in t.casefold() for t in texts) >= len(texts) // 2, texts
