"""Benchmark: the XLSX engine (read + redact for one recipient, verification included) against openpyxl.

Usage::

    .venv/bin/python benchmarks/bench_xlsx.py [--rows 10000,50000] [--repeat N]

For each row count, writes a workbook of that many rows x 6 columns
(repeated and unique texts, numbers, a customer name every 97 rows), then,
each in a fresh subprocess so that neither time nor memory carries over:

* ``reference``: ``openpyxl.load_workbook(read_only=True)`` iterating every
  value of every sheet;
* ``engine``: ``XlsxEngine.read``, one batched ``RecipientPlanner.scan`` of
  the units with declared terms and patterns (spaCy NER is replaced by a
  stand-in that finds nothing: its cost is the detector's, not the engine's),
  and ``redact`` for one recipient, whose verification re-reads every part.

Prints both times and their ratio (goal: at most 3), and each process's peak
RSS, with the part of it the work added over the process after its imports.
With ``--repeat N`` each is run N times and the fastest run's times are
shown, with the highest peak memory of the runs (the machine may be shared).
The last line sets the largest workbook's figures against the smallest's:
"flat in file size" means the engine's added memory grows much less than the
rows do. What still grows with the distinct texts: the units list (one
TextUnit per distinct text) and the planner's set of texts without findings
(one entry each; only texts with findings keep their findings and places).
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


def _current_mib() -> float:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


def _reference(path: Path) -> dict[str, Any]:
    from openpyxl import load_workbook

    base = _peak_mib()
    start = time.perf_counter()
    workbook = load_workbook(path, read_only=True)
    cells = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += sum(1 for v in row if v is not None)
    workbook.close()
    return {"seconds": time.perf_counter() - start, "cells": cells, "base_rss_mib": base}


class _NoNer:
    def analyze_many(self, texts: Any, entities: Any) -> list[list[Any]]:
        return [[] for _ in texts]


def _engine(path: Path) -> dict[str, Any]:
    from exchange.domain.detection import load_policy
    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.planner import RecipientPlanner
    from exchange.domain.redaction.base import EngineLimits
    from exchange.domain.redaction.office.xlsx import XlsxEngine
    from tests.corpus.office_xlsx import POLICY

    policy = load_policy(POLICY)
    detector = Detector(policy, engine=_NoNer())  # type: ignore[arg-type]
    engine = XlsxEngine()
    base = _peak_mib()
    start = time.perf_counter()
    document = engine.read(path, EngineLimits())
    read_done = time.perf_counter()
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    scan_done = time.perf_counter()
    # The units list and the planner's set of texts grow with distinct texts; what redaction adds
    # on top of them is the engine's own memory for a recipient.
    before_redact = _current_mib()
    result = engine.redact(document, planner.plan("supplier"))
    end = time.perf_counter()
    redact_added = max(_peak_mib() - before_redact, 0.0)
    return {
        "seconds": end - start,
        "read": read_done - start,
        "scan": scan_done - read_done,
        "redact": end - scan_done,
        "ok": result.ok,
        "units": len(document.units),
        "redactions": sum(result.report["counts"].values()),
        "base_rss_mib": base,
        "redact_added_mib": redact_added,
    }


def _child(mode: str, path: Path) -> dict[str, Any]:
    out = _reference(path) if mode == "reference" else _engine(path)
    out["peak_rss_mib"] = _peak_mib()
    return out


def _run(mode: str, path: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--path", str(path)],
            capture_output=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT)},
        )
        runs.append(json.loads(proc.stdout))
    best = min(runs, key=lambda r: r["seconds"])
    out = {**best, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
    if "redact_added_mib" in best:
        out["redact_added_mib"] = max(r["redact_added_mib"] for r in runs)
    return out


def _memory(figures: dict[str, Any]) -> str:
    added = figures["peak_rss_mib"] - figures["base_rss_mib"]
    return f"peak RSS {figures['peak_rss_mib']:.0f} MiB (+{added:.0f} MiB over imports)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,50000", help="comma-separated row counts")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", choices=("reference", "engine"))
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.path)))
        return
    sys.path.insert(0, str(ROOT))
    from tests.corpus.office_xlsx import big_workbook

    sizes = [int(n) for n in args.rows.split(",")]
    runs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            path = Path(tmp) / f"big-{rows}.xlsx"
            big_workbook(path, rows)
            ref, eng = _run("reference", path, args.repeat), _run("engine", path, args.repeat)
            runs[rows] = {"ref": ref, "eng": eng}
            print(f"workbook: {rows} rows x 6 columns, {path.stat().st_size / 2**20:.1f} MiB")
            print(f"  openpyxl read_only, every value: {ref['seconds']:.2f} s, {_memory(ref)}")
            print(
                f"  XlsxEngine read+scan+redact+verify: {eng['seconds']:.2f} s "
                f"(read {eng['read']:.2f}, scan {eng['scan']:.2f}, redact+verify {eng['redact']:.2f}), "
                f"{_memory(eng)}, redact+verify peak +{eng['redact_added_mib']:.0f} MiB over its start, "
                f"ok={eng['ok']}, units={eng['units']}, redactions={eng['redactions']}"
            )
            print(f"  ratio engine/openpyxl: {eng['seconds'] / ref['seconds']:.2f} (goal <= 3)")
    if len(sizes) > 1:
        small, large = runs[min(sizes)]["eng"], runs[max(sizes)]["eng"]
        grown = (large["peak_rss_mib"] - large["base_rss_mib"]) / max(
            small["peak_rss_mib"] - small["base_rss_mib"], 1
        )
        redact_grown = large["redact_added_mib"] / max(small["redact_added_mib"], 1)
        print(
            f"memory, {max(sizes)} rows against {min(sizes)} ({max(sizes) / min(sizes):.0f}x the rows): "
            f"engine peak RSS x{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}, "
            f"added over imports x{grown:.2f}, redact+verify's own x{redact_grown:.2f}"
        )


if __name__ == "__main__":
    main()
