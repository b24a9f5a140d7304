"""Benchmark: image redaction (read + redact for one recipient, verification included) against Tesseract.

Usage::

    .venv/bin/python benchmarks/bench_image_redact.py [--megapixels 4] [--photo-megapixels 50]

Draws a document-like page (lines of text, customer names on some) as PNG and
JPEG, then, each in a fresh subprocess:

* ``engine``: ``ImageEngine.read`` + ``redact`` for one recipient with a
  regex stand-in for the detector (detection is not what is measured);
* ``reference``: one plain ``tesseract page stdout`` run on the same image.

Prints seconds per megapixel for both and their ratio (goal: at most 2.5),
and the peak RSS of the engine (its own process, and its largest Tesseract
child) on a synthetic photo of ``--photo-megapixels``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CUSTOMERS = ["Kestrel Dynamics", "Oakridge Acoustics", "Brightwater Optics"]

_ENGINE = """
import json, re, sys, time, resource
from pathlib import Path
from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.image.engine import ImageEngine
names = json.loads(sys.argv[2])
rx = re.compile("|".join(r"\\s+".join(map(re.escape, n.split())) for n in names))
def find(text):
    return [Redaction(m.start(), m.end(), "CUSTOMER", None) for m in rx.finditer(text)]
engine = ImageEngine()
limits = EngineLimits(ocr_languages="eng", ocr_workers=int(sys.argv[3]))
t0 = time.perf_counter()
doc = engine.read(Path(sys.argv[1]), limits)
t1 = time.perf_counter()
result = engine.redact(doc, RecipientPlan("supplier", find, list(names)))
t2 = time.perf_counter()
assert result.ok, result.report
print(json.dumps({"read": t1 - t0, "redact": t2 - t1,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "child_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "boxes": sum(p["boxes"] for p in result.report["pages"]),
                  "angles": len(doc.ocr[0].angles)}))
"""


def make_page(path: Path, megapixels: float, fmt: str) -> None:
    from PIL import Image, ImageDraw, ImageFont

    width = int((megapixels * 1e6 / 1.414) ** 0.5)
    height = int(width * 1.414)
    size = max(12, width // 60)
    face = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    words = ["the", "turbine", "assembly", "ships", "with", "sintered", "magnets", "and", "a", "signed"]
    for n, y in enumerate(range(size * 2, height - size * 2, int(size * 1.8))):
        line = " ".join(words[(n + i) % len(words)] for i in range(7))
        if n % 5 == 0:
            line = f"{line} {CUSTOMERS[n % len(CUSTOMERS)]}"
        draw.text((size * 2, y), line, font=face, fill="black")
    image.save(path, fmt, **({"quality": 92} if fmt == "JPEG" else {}))


def make_photo(path: Path, megapixels: float) -> None:
    from PIL import Image, ImageDraw, ImageFont

    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", width // 40)
    draw.rectangle((width // 10, height // 10, width // 2, height // 5), fill="white")
    draw.text((width // 10 + 20, height // 10 + 20), f"Customer {CUSTOMERS[0]}", font=face, fill="black")
    image.save(path, "JPEG", quality=90)


def run(cmd: list[str], cwd: str | None = None) -> tuple[float, int, bytes]:
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd[0]} failed: {err.read().decode()[-800:]}")
        return elapsed, int(usage.ru_maxrss), out.read()


def engine_run(path: Path, workers: int) -> dict[str, float]:
    root = str(Path(__file__).resolve().parents[1])
    _, _, raw = run([sys.executable, "-c", _ENGINE, str(path), json.dumps(CUSTOMERS), str(workers)], cwd=root)
    return json.loads(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=4.0)
    parser.add_argument("--photo-megapixels", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    os.environ.update(env)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
            page = Path(tmp) / f"page.{ext}"
            make_page(page, args.megapixels, fmt)
            engine = engine_run(page, args.workers)
            ref_t, _, _ = run(["tesseract", str(page), "stdout", "-l", "eng"])
            seconds = engine["read"] + engine["redact"]
            rows.append(
                {
                    "format": fmt,
                    "megapixels": args.megapixels,
                    "engine_s_per_mp": seconds / args.megapixels,
                    "read_s": engine["read"],
                    "redact_verify_s": engine["redact"],
                    "tesseract_s_per_mp": ref_t / args.megapixels,
                    "ratio": seconds / ref_t,
                    "boxes": engine["boxes"],
                }
            )
        photo = Path(tmp) / "photo.jpg"
        make_photo(photo, args.photo_megapixels)
        big = engine_run(photo, args.workers)
    print(f"{'format':>6} {'MP':>5} {'engine s/MP':>11} {'tesseract s/MP':>14} {'ratio':>6} {'boxes':>5}")
    for r in rows:
        print(
            f"{r['format']:>6} {r['megapixels']:>5.1f} {r['engine_s_per_mp']:>11.2f} "
            f"{r['tesseract_s_per_mp']:>14.2f} {r['ratio']:>6.2f} {r['boxes']:>5}"
        )
    print(
        f"photo {args.photo_megapixels:.0f} MP: {big['read'] + big['redact']:.1f} s, "
        f"engine peak RSS {big['rss_kib'] / 1024:.0f} MiB, "
        f"largest tesseract child {big['child_rss_kib'] / 1024:.0f} MiB, "
        f"turns read {big['angles']}"
    )
    print(json.dumps({"pages": rows, "photo": big}, indent=1))


if __name__ == "__main__":
    main()
