"""`exchange scan` and `exchange redact` on images, as a user runs them: subprocesses, exit codes.

Bad images (a pixel bomb, a truncated JPEG, a PNG named .jpg) each give one
``error:`` line and exit code 2 while the good input is still written; the
written output is read back by the ``tesseract`` CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import images as corpus

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
POLICY = f"""
version: 1
name: cli images
terms:
  customers: ["{corpus.CUSTOMER}"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}'}}
recipients:
  supplier: {{redact: [CUSTOMER, PART_NUMBER, EMAIL_ADDRESS]}}
"""


def exchange(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXCHANGE_OCR_LANGUAGES": "eng", "EXCHANGE_OCR_TIMEOUT": "60"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("image_cli")
    policy = work / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    good = corpus.png_with_text(work)
    liar = work / "liar.jpg"
    liar.write_bytes(good.read_bytes())
    photo = corpus.jpeg_with_metadata(work)
    return {
        "policy": policy,
        "good": good,
        "bomb": corpus.pixel_bomb_png(work),
        "truncated": corpus.truncated(work, photo),
        "liar": liar,
    }


def test_redact_writes_good_images_and_refuses_bad_ones(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = exchange(
        "redact",
        str(inputs["good"]),
        str(inputs["bomb"]),
        str(inputs["truncated"]),
        str(inputs["liar"]),
        "--policy",
        str(inputs["policy"]),
        "--recipient",
        "supplier",
        "--out",
        str(out),
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, done.stderr
    assert any("bomb.png" in e and "pixels" in e for e in errors), errors
    assert any("truncated.jpg" in e for e in errors), errors
    assert any("liar.jpg" in e and "the name says" in e for e in errors), errors
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == [inputs["good"].name]
    read = subprocess.run(
        ["tesseract", str(out / inputs["good"].name), "stdout", "-l", "eng"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout.decode()
    folded = " ".join(read.split()).casefold()
    assert "kestrel" not in folded and corpus.PART.casefold() not in folded
    assert "turbine" in folded


def test_scan_reads_images_with_ocr(inputs: dict[str, Path]) -> None:
    done = exchange("scan", str(inputs["good"]), "--policy", str(inputs["policy"]), "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.splitlines()[0])
    customers = [f for f in record["findings"] if f["entity_type"] == "CUSTOMER"]
    assert customers and all(f["source"] == "ocr" and f["page"] == 1 for f in customers)
    bad = exchange("scan", str(inputs["bomb"]), "--policy", str(inputs["policy"]))
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1
