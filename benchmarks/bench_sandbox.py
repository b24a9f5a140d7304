"""Per-file cost of the sandbox: a tiny text file redacted in-process and sandboxed.

Run: .venv/bin/python benchmarks/bench_sandbox.py [--runs N]

Both paths use the same loaded detector; the difference is fork, confinement
(rlimits, Landlock), the pipe back and taking back labels and findings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.redaction import pipeline
from exchange.domain.redaction.base import EngineLimits

POLICY = """version: 1
name: bench
terms: {customers: ["Kestrel Dynamics GmbH"]}
recipients:
  bureau: {redact: [CUSTOMER], style: label}
  supplier: {redact: [CUSTOMER, PERSON]}
"""
RECIPIENTS = ["bureau", "supplier"]


def _vm_mb() -> float:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmSize"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    policy = load_policy(POLICY)
    detector = Detector(policy)
    limits = EngineLimits(ocr_workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "order.txt"
        # Each run gets a different text, so neither path profits from the planner's memo.
        texts = [
            f"Order {i} for Kestrel Dynamics GmbH, attention John Smith.\n" for i in range(args.runs + 1)
        ]

        def in_process(i: int) -> None:
            source.write_text(texts[i])
            planner = RecipientPlanner(detector, policy)
            pipeline._redact(pipeline._read(source, "text/plain", planner, limits), planner, RECIPIENTS)

        def sandboxed(i: int) -> None:
            source.write_text(texts[i])
            pipeline.redact_document(
                source, "text/plain", RecipientPlanner(detector, policy), RECIPIENTS, limits
            )

        in_process(args.runs)  # warm: engine imports, first spaCy call
        sandboxed(args.runs)
        figures = {}
        for name, fn in (("in-process", in_process), ("sandboxed", sandboxed)):
            times = []
            for i in range(args.runs):
                started = time.perf_counter()
                fn(i)
                times.append((time.perf_counter() - started) * 1000)
            figures[name] = statistics.median(times)
            print(f"{name:>11}: median {figures[name]:7.1f} ms  (min {min(times):.1f}, max {max(times):.1f})")
    overhead = figures["sandboxed"] - figures["in-process"]
    ratio = figures["sandboxed"] / figures["in-process"]
    print(f"   overhead: {overhead:7.1f} ms per file, ratio {ratio:.2f}x; parent VmSize {_vm_mb():.0f} MiB")


if __name__ == "__main__":
    main()
