"""Generated DOCX files (50 and 200 pages by default): our read + redact (one recipient,
verification included) against python-docx reading the same file's paragraph and table texts.

Each measurement runs in a fresh subprocess, so neither time nor peak memory carries over from
another; each is repeated (``--repeat``, default 3) and the fastest run's times are shown, with
the highest peak memory of the runs (the machine may be shared). Detection (the planner's batch
scan) is timed separately: it is the detector's cost, the same for every format. Goal: engine
time at most 3x python-docx, and peak memory flat in file size (the last line sets the largest
document's figures against the smallest's). Usage:

    .venv/bin/python benchmarks/bench_office.py [--repeat N] [pages ...]

e.g. ``benchmarks/bench_office.py 50 200 800`` for the memory line over a 16x range.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reference(path: Path) -> dict[str, Any]:
    import docx

    base = _peak_mib()
    started = time.perf_counter()
    reference = docx.Document(str(path))
    texts = [p.text for p in reference.paragraphs]
    texts += [c.text for t in reference.tables for r in t.rows for c in r.cells]
    return {"seconds": time.perf_counter() - started, "texts": len(texts), "base_rss_mib": base}


def _engine(path: Path) -> dict[str, Any]:
    from exchange.domain.detection import load_policy
    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.planner import RecipientPlanner
    from exchange.domain.redaction.base import EngineLimits
    from exchange.domain.redaction.office.docx import DocxEngine
    from tests.corpus import office as corpus

    policy = load_policy(corpus.POLICY)
    detector = Detector(policy)
    engine = DocxEngine()
    # spaCy loads on first use: warm it on a throw-away text so the figures below are the engine's.
    RecipientPlanner(detector, policy).scan(["warm-up text for Bremen"])
    base = _peak_mib()
    started = time.perf_counter()
    document = engine.read(path, EngineLimits(ocr_languages="eng"))
    read = time.perf_counter() - started
    planner = RecipientPlanner(detector, policy)
    started = time.perf_counter()
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    detect = time.perf_counter() - started
    started = time.perf_counter()
    result = engine.redact(document, planner.plan("supplier"))
    redact = time.perf_counter() - started
    assert result.ok, result.report
    return {
        "read": read,
        "detect": detect,
        "redact": redact,
        "units": len(document.units),
        "spans": sum(result.report["counts"].values()),
        "base_rss_mib": base,
    }


def _run(mode: str, path: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(path)],
            capture_output=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT)},
        )
        runs.append(json.loads(proc.stdout))
    best = min(runs, key=lambda r: r["seconds"] if mode == "reference" else r["read"] + r["redact"])
    return {**best, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}


def _memory(figures: dict[str, Any]) -> str:
    added = figures["peak_rss_mib"] - figures["base_rss_mib"]
    return f"peak RSS {figures['peak_rss_mib']:.0f} MiB (+{added:.0f} MiB over imports)"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        mode, path = sys.argv[2], Path(sys.argv[3])
        out = _reference(path) if mode == "reference" else _engine(path)
        out["peak_rss_mib"] = _peak_mib()
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=int, default=[50, 200])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.corpus import office as corpus

    sizes = args.pages
    runs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pages in sizes:
            path = corpus.make_long_docx(Path(tmp) / f"long-{pages}.docx", pages)
            ref, eng = _run("reference", path, args.repeat), _run("engine", path, args.repeat)
            runs[pages] = eng
            ours = eng["read"] + eng["redact"]
            print(f"document: {pages} pages, {path.stat().st_size / 1024:.0f} KiB")
            print(f"  python-docx paragraph texts: {ref['seconds']:.2f} s ({ref['texts']} texts)", end="")
            print(f", {_memory(ref)}")
            print(f"  DocxEngine read: {eng['read']:.2f} s ({eng['units']} units)")
            print(f"  DocxEngine redact + verify: {eng['redact']:.2f} s ({eng['spans']} spans)")
            print(f"  detection (planner scan, not engine time): {eng['detect']:.2f} s")
            ratio = ours / ref["seconds"]
            print(f"  engine read+redact / python-docx: {ratio:.2f}x (goal <= 3x), {_memory(eng)}")
    if len(sizes) > 1:
        small, large = runs[min(sizes)], runs[max(sizes)]
        grown = (large["peak_rss_mib"] - large["base_rss_mib"]) / max(
            small["peak_rss_mib"] - small["base_rss_mib"], 1
        )
        print(
            f"memory, {max(sizes)} pages against {min(sizes)} ({max(sizes) / min(sizes):.0f}x the pages): "
            f"engine peak RSS x{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}, "
            f"added over imports x{grown:.2f}"
        )


if __name__ == "__main__":
    main()
