"""Benchmark: PDF redaction (apply + sanitise + verify) against a qpdf + pdftotext floor.

Usage::

    .venv/bin/python benchmarks/bench_pdf_redact.py [--pages 200] [--per-page 10]

Generates a text PDF with reportlab (about 45 lines per page, ``--per-page``
customer names per page), then, each in a fresh subprocess so peak RSS is
per run:

* ``engine``: ``redact_pdf`` with a precomputed ``find`` (detection is
  excluded: the time spent inside ``find`` is measured and subtracted);
* ``floor``: ``qpdf in out`` followed by ``pdftotext in -`` — rewriting the
  file and extracting its text, the least any redactor must do.

Prints pages/s, peak RSS (the engine's minus an import-only baseline), the
ratio to the floor, and the same figures at half and double the page count
to show whether memory grows with pages.
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

CUSTOMERS = [
    "Kestrel Dynamics",
    "Oakridge Acoustics",
    "Müller Magnet",
    "Shenzhen Rare Earth",
    "Brightwater Optics",
]
FILLER = [
    "the", "turbine", "assembly", "ships", "with", "sintered", "magnets", "and", "a", "signed", "end",
    "use", "statement", "for", "the", "licence", "application", "covering", "rotor", "stator", "housing",
    "bearings",
]  # fmt: skip

_ENGINE = """
import json, re, sys, time, resource
from pathlib import Path
from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.pdf import redact_pdf
names = json.loads(sys.argv[2])
rx = re.compile("|".join(re.escape(n) for n in names))
spent = [0.0]
def find(text):
    t = time.perf_counter()
    out = [Redaction(m.start(), m.end(), "CUSTOMER", None) for m in rx.finditer(text)]
    spent[0] += time.perf_counter() - t
    return out
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
result = redact_pdf(Path(sys.argv[1]), find=find, sensitive_values=names)
elapsed = time.perf_counter() - t0 - spent[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert result.ok, result.report
print(json.dumps({"seconds": elapsed, "find_seconds": spent[0], "rss_base_kib": base, "rss_peak_kib": peak,
                  "redactions": sum(sum(p["redactions"].values()) for p in result.report["pages"])}))
"""


def make_pdf(path: Path, pages: int, per_page: int) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    k = 0
    for n in range(pages):
        c.setFont("Helvetica", 10)
        name_lines = {(i * 45) // per_page for i in range(per_page)}
        for line in range(45):
            words = [FILLER[(k + i) % len(FILLER)] for i in range(8)]
            k += 7
            if line in name_lines:
                words.insert(4, CUSTOMERS[(n + line) % len(CUSTOMERS)])
            c.drawString(50, 790 - 16 * line, f"{n + 1}.{line + 1} " + " ".join(words))
        c.showPage()
    c.save()


def _run_rss(cmd: list[str], cwd: str | None = None) -> tuple[float, int, bytes]:
    """Wall time, peak RSS (KiB) of this one child (via wait4), stdout."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {err.read().decode()[-800:]}")
        return elapsed, int(usage.ru_maxrss), out.read()


def measure(pages: int, per_page: int, workdir: Path) -> dict[str, float]:
    src = workdir / f"bench_{pages}.pdf"
    make_pdf(src, pages, per_page)
    root = str(Path(__file__).resolve().parents[1])
    _, _, raw = _run_rss([sys.executable, "-c", _ENGINE, str(src), json.dumps(CUSTOMERS)], cwd=root)
    engine = json.loads(raw)
    qpdf_t, qpdf_rss, _ = _run_rss(["qpdf", str(src), str(workdir / "floor.pdf")])
    text_t, text_rss, _ = _run_rss(["pdftotext", str(src), str(workdir / "floor.txt")])
    floor = qpdf_t + text_t
    return {
        "pages": pages,
        "redactions": engine["redactions"],
        "engine_seconds": engine["seconds"],
        "engine_pages_per_s": pages / engine["seconds"],
        "engine_peak_mib": engine["rss_peak_kib"] / 1024,
        "engine_peak_over_imports_mib": (engine["rss_peak_kib"] - engine["rss_base_kib"]) / 1024,
        "find_seconds_excluded": engine["find_seconds"],
        "floor_seconds": floor,
        "floor_pages_per_s": pages / floor,
        "floor_peak_mib": max(qpdf_rss, text_rss) / 1024,
        "ratio_to_floor": engine["seconds"] / floor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--no-scaling", action="store_true", help="skip the half/double page-count runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        counts = [args.pages] if args.no_scaling else [args.pages // 2, args.pages, args.pages * 2]
        rows = [measure(n, args.per_page, Path(tmp)) for n in counts]
    print(
        f"{'pages':>6} {'redactions':>10} {'engine p/s':>10} {'floor p/s':>10} {'ratio':>6} "
        f"{'engine MiB':>10} {'(over imports)':>14} {'floor MiB':>9}"
    )
    for r in rows:
        print(
            f"{r['pages']:>6} {r['redactions']:>10} {r['engine_pages_per_s']:>10.1f} "
            f"{r['floor_pages_per_s']:>10.1f} {r['ratio_to_floor']:>6.1f} {r['engine_peak_mib']:>10.1f} "
            f"{r['engine_peak_over_imports_mib']:>14.1f} {r['floor_peak_mib']:>9.1f}"
        )
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
