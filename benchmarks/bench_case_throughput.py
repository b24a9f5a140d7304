"""End-to-end case throughput, in pages per second, with 1 and with 2 worker processes.

Run: .venv/bin/python benchmarks/bench_case_throughput.py [--pdfs 10] [--pages 10] [--texts 50]

A case of ~200 mixed pages (text PDFs drawn by reportlab, 10 pages each, and
text files of ~2 pages (6,000 characters) each; no OCR-heavy content) goes
through the real stack: the app's test client, a private redis-server, a
SQLite database, the filesystem blob store and a real Celery worker with
``--concurrency`` 1, then 2. The clock runs from the submit to the case in
``review`` (detection, redaction for both recipients, verification). Prints
pages/s for each and the ratio (goal: >= 1.7x on two idle cores); per-file
jobs are what let a second worker process help within one case.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests.faults.harness import fault_stack

# Boxes, not labels, and no e-mail rule: a PDF whose verification reports a leak
# currently fails in the sandbox's answer (pdf.verify.Leak is not on its allow-list).
POLICY = """version: 1
name: throughput
terms: {customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]}
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""

LINES = [
    "Purchase order {n} for Kestrel Dynamics GmbH, sintered NdFeB magnets grade N52.",
    "Contact: buyer{n}@kestrel.example, delivery to Oakridge Acoustics Ltd, Leeds.",
    "Batch {n}: coercivity 955 kA/m, remanence 1.43 T, dysprosium-free grain boundary process.",
]


def pdf(pages: int, seed: int) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    for p in range(pages):
        y = 800
        for i in range(40):
            page.drawString(40, y, LINES[i % 3].format(n=seed * 1000 + p * 40 + i))
            y -= 19
        page.showPage()
    page.save()
    return out.getvalue()


def text(seed: int, chars: int = 6000) -> bytes:
    body, i = [], 0
    while sum(len(x) for x in body) < chars:
        body.append(LINES[i % 3].format(n=seed * 1000 + i) + "\n")
        i += 1
    return "".join(body).encode()


def run(concurrency: int, files: dict[str, bytes]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-case-") as root, fault_stack(Path(root)) as stack:
        stack.start_worker(concurrency=concurrency)
        case_id = stack.new_case_with_files(files, POLICY)
        client = stack.app.test_client()  # type: ignore[union-attr]
        started = time.perf_counter()
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers).status_code == 202
        body = stack.wait_for(case_id, {"review", "failed"}, timeout=1800)
        elapsed = time.perf_counter() - started
        assert body["status"] == "review", body.get("error")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pdfs", type=int, default=10)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--texts", type=int, default=50)
    args = parser.parse_args()
    files = {f"order-{i}.pdf": pdf(args.pages, i) for i in range(args.pdfs)}
    files.update({f"notes-{i}.txt": text(100 + i) for i in range(args.texts)})
    pages = args.pdfs * args.pages + args.texts * 2
    print(f"case: {len(files)} files, {pages} pages; cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.2f}")
    one = run(1, files)
    print(f"1 worker process:  {one:6.1f} s  {pages / one:6.2f} pages/s")
    two = run(2, files)
    print(f"2 worker processes: {two:6.1f} s  {pages / two:6.2f} pages/s")
    print(f"ratio: {one / two:.2f}x (goal >= 1.7x on two idle cores); load now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
