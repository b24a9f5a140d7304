"""A generated 200-page DOCX: our read + redact (one recipient, verification included) against
python-docx reading the same file's paragraph texts, in the same run.

Detection (the planner's batch scan) is timed separately: it is the detector's cost, the same for
every format. Goal: engine time at most 3x python-docx. Usage:

    .venv/bin/python benchmarks/bench_office.py [pages]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import docx

    from exchange.domain.detection import load_policy
    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.planner import RecipientPlanner
    from exchange.domain.redaction.base import EngineLimits
    from exchange.domain.redaction.office.docx import DocxEngine
    from tests.corpus import office as corpus

    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    policy = load_policy(corpus.POLICY)
    detector = Detector(policy)
    with tempfile.TemporaryDirectory() as tmp:
        path = corpus.make_long_docx(Path(tmp) / "long.docx", pages)
        print(f"document: {pages} pages, {path.stat().st_size / 1024:.0f} KiB")

        started = time.perf_counter()
        reference = docx.Document(str(path))
        texts = [p.text for p in reference.paragraphs]
        texts += [c.text for t in reference.tables for r in t.rows for c in r.cells]
        python_docx = time.perf_counter() - started
        print(f"python-docx paragraph texts: {python_docx:.2f} s ({len(texts)} texts)")

        engine = DocxEngine()
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
        ours = read + redact
        print(f"DocxEngine read: {read:.2f} s ({len(document.units)} units)")
        print(f"DocxEngine redact + verify: {redact:.2f} s ({sum(result.report['counts'].values())} spans)")
        print(f"detection (planner scan, not engine time): {detect:.2f} s")
        print(f"engine read+redact / python-docx: {ours / python_docx:.2f}x (goal <= 3x)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
