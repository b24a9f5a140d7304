"""Benchmark: the XLSX engine (read + redact for one recipient, verification included) against openpyxl.

Usage::

    .venv/bin/python benchmarks/bench_xlsx.py [--rows 50000]

Writes a workbook of ``--rows`` rows x 6 columns (repeated and unique texts,
numbers, a customer name every 97 rows), then, each in a fresh subprocess:

* ``reference``: ``openpyxl.load_workbook(read_only=True)`` iterating every
  value of every sheet;
* ``engine``: ``XlsxEngine.read``, one batched ``RecipientPlanner.scan`` of
  the units with declared terms and patterns (spaCy NER is replaced by a
  stand-in that finds nothing: its cost is the detector's, not the engine's),
  and ``redact`` for one recipient, whose verification re-reads every part.

Prints both times, their ratio (goal: at most 3) and each process's peak RSS.
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


def _reference(path: Path) -> dict[str, Any]:
    from openpyxl import load_workbook

    start = time.perf_counter()
    workbook = load_workbook(path, read_only=True)
    cells = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += sum(1 for v in row if v is not None)
    workbook.close()
    return {"seconds": time.perf_counter() - start, "cells": cells}


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
    start = time.perf_counter()
    document = engine.read(path, EngineLimits())
    read_done = time.perf_counter()
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    scan_done = time.perf_counter()
    result = engine.redact(document, planner.plan("supplier"))
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "read": read_done - start,
        "scan": scan_done - read_done,
        "redact": end - scan_done,
        "ok": result.ok,
        "units": len(document.units),
        "redactions": sum(result.report["counts"].values()),
    }


def _child(mode: str, path: Path) -> dict[str, Any]:
    out = _reference(path) if mode == "reference" else _engine(path)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--child", choices=("reference", "engine"))
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.path)))
        return
    sys.path.insert(0, str(ROOT))
    from tests.corpus.office_xlsx import big_workbook

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.xlsx"
        big_workbook(path, args.rows)
        figures = {}
        for mode in ("reference", "engine"):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--path", str(path)],
                capture_output=True,
                check=True,
                cwd=ROOT,
                env={"PYTHONPATH": str(ROOT)},
            )
            figures[mode] = json.loads(proc.stdout)
        size = path.stat().st_size
    ref, eng = figures["reference"], figures["engine"]
    print(f"workbook: {args.rows} rows x 6 columns, {size / 2**20:.1f} MiB")
    print(f"openpyxl read_only, every value: {ref['seconds']:.2f} s, peak RSS {ref['peak_rss_mib']:.0f} MiB")
    print(
        f"XlsxEngine read+scan+redact+verify: {eng['seconds']:.2f} s "
        f"(read {eng['read']:.2f}, scan {eng['scan']:.2f}, redact+verify {eng['redact']:.2f}), "
        f"peak RSS {eng['peak_rss_mib']:.0f} MiB, ok={eng['ok']}, units={eng['units']}, "
        f"redactions={eng['redactions']}"
    )
    print(f"ratio engine/openpyxl: {eng['seconds'] / ref['seconds']:.2f} (goal <= 3)")


if __name__ == "__main__":
    main()
