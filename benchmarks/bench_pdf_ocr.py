"""Benchmark: a scanned PDF through PdfEngine (OCR read, redact, OCR verify), 1 vs 2 workers.

Usage::

    .venv/bin/python benchmarks/bench_pdf_ocr.py [--pages 20] [--repeat 3]

Draws ``--pages`` small scan pages with Pillow (a customer name, a part
number and an e-mail address on each), wraps them with img2pdf, then runs
``PdfEngine.read`` + ``PdfEngine.redact`` for one recipient (a precomputed
regex ``find``; detection is excluded) with ``ocr_workers=1`` and
``ocr_workers=2``, interleaved, ``--repeat`` times each. Prints the median
seconds of each, pages/s and the speed-up; the target is >= 1.6x on 2 cores
(each OCR is a Tesseract child process, so the thread pool runs pages in
parallel). Also prints the host load, since other work on the CPUs skews it,
and the CPU seconds spent in this process (serial) and in the OCR children
(parallel), with the speed-up they bound on two idle cores.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import img2pdf
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pdf.pdf_engine import PdfEngine

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
VALUES = ["Kestrel Dynamics", "KD-4471-NX", "anna.weber@kestrel-dyn.de"]
_PATTERN = re.compile("|".join(re.escape(v) for v in VALUES))


def scan_pdf(pages: int, path: Path) -> Path:
    font = ImageFont.truetype(FONT, 26)
    pngs = []
    for n in range(1, pages + 1):
        img = Image.new("L", (850, 520), 255)
        draw = ImageDraw.Draw(img)
        lines = [
            f"Purchase order {4100 + n} page {n}",
            f"Customer {VALUES[0]} GmbH",
            f"Part {VALUES[1]} magnet rotor",
            f"Contact {VALUES[2]}",
            "Sintered magnets for the turbine housing,",
            "delivery in two lots with end-use statement.",
        ]
        for i, line in enumerate(lines):
            draw.text((30, 30 + i * 44), line, fill=0, font=font)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        pngs.append(buf.getvalue())
    path.write_bytes(img2pdf.convert(pngs, layout_fun=img2pdf.get_fixed_dpi_layout_fun((100, 100))))
    return path


def find(text: str) -> Sequence[Redaction]:
    return [Redaction(m.start(), m.end(), "CUSTOMER", None) for m in _PATTERN.finditer(text)]


def run(src: Path, workers: int) -> tuple[float, dict[str, object], float, float]:
    """Wall seconds, the report, and CPU seconds of this process and of its OCR children."""
    limits = EngineLimits(ocr_languages="eng", ocr_workers=workers)
    engine = PdfEngine()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = time.process_time()
    started = time.perf_counter()
    document = engine.read(src, limits)
    result = engine.redact(document, RecipientPlan("supplier", find=find, sensitive_values=list(VALUES)))
    elapsed = time.perf_counter() - started
    own = time.process_time() - own
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ocr = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    if not result.ok:
        raise SystemExit(f"redaction failed: {result.report.get('withheld')}")
    return elapsed, result.report, own, ocr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = scan_pdf(args.pages, Path(tmp) / "scan.pdf")
        times: dict[int, list[float]] = {1: [], 2: []}
        cpu: list[tuple[float, float]] = []
        report: dict[str, object] = {}
        for _ in range(args.repeat):
            for workers in (1, 2):
                seconds, report, own, ocr = run(src, workers)
                times[workers].append(seconds)
                cpu.append((own, ocr))
    one, two = statistics.median(times[1]), statistics.median(times[2])
    counts = report.get("counts", {})
    total = sum(counts.values()) if isinstance(counts, dict) else "?"
    print(f"scanned PDF: {args.pages} pages, {total} redactions")
    print(f"1-minute load average after the runs: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()})")
    print(f"{'workers':>7} {'median s':>9} {'pages/s':>8} {'runs':>30}")
    for workers, median in ((1, one), (2, two)):
        runs = " ".join(f"{t:.2f}" for t in times[workers])
        print(f"{workers:>7} {median:>9.2f} {args.pages / median:>8.2f} {runs:>30}")
    print(f"speed-up 2 vs 1 workers: {one / two:.2f}x (target >= 1.6x)")
    own = statistics.median(c[0] for c in cpu)
    ocr = statistics.median(c[1] for c in cpu)
    # Only this process's own CPU time is serial; Tesseract children run in parallel.
    bound = (own + ocr) / (own + ocr / 2)
    print(
        f"CPU per run: {own:.2f} s in this process, {ocr:.2f} s in OCR children;"
        f" bound on 2 idle cores {bound:.2f}x"
    )


if __name__ == "__main__":
    main()
