"""Formats that cannot paint a box withhold the file from a boxed recipient, never share it unboxed.

Real engines in the real (sandboxed) pipeline, a DOCX written by python-docx
and a CSV; only the NER model is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docx
import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.review import build_review, parse_box
from exchange.domain.filetypes import CSV
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pipeline import NO_BOXES, redact_document

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
POLICY = """
version: 1
name: boxes elsewhere
terms:
  customers: ["Kestrel Dynamics GmbH"]
recipients:
  supplier: {redact: [CUSTOMER]}
  bureau: {redact: [CUSTOMER]}
"""


class _NoNer:
    def analyze_many(self, texts: Any, entities: Any) -> list[list[Any]]:
        return [[] for _ in texts]


def _docx(directory: Path) -> Path:
    path = directory / "order.docx"
    document = docx.Document()
    document.add_paragraph("Order placed by Kestrel Dynamics GmbH for the turbine.")
    document.save(str(path))
    return path


def _csv(directory: Path) -> Path:
    path = directory / "orders.csv"
    path.write_text("customer,item\nKestrel Dynamics GmbH,turbine\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("make", "media_type"), [(_docx, DOCX), (_csv, CSV)])
def test_a_boxed_recipient_gets_nothing_the_other_gets_the_file(
    make: Any, media_type: str, tmp_path: Path
) -> None:
    policy = load_policy(POLICY)
    review = build_review([], [(["supplier"], parse_box(1, [0.1, 0.1, 0.3, 0.2]))])
    planner = RecipientPlanner(Detector(policy, engine=_NoNer()), policy, review=review)  # type: ignore[arg-type]
    outcome = redact_document(make(tmp_path), media_type, planner, ["supplier", "bureau"], EngineLimits())
    supplier, bureau = outcome.results["supplier"], outcome.results["bureau"]
    assert not supplier.ok and supplier.data is None
    assert supplier.report["withheld"] == NO_BOXES
    assert NO_BOXES == "manual boxes apply to PDF pages and images; select the text to redact instead"
    assert bureau.ok and bureau.data is not None
    assert outcome.findings  # the file was still read and scanned for the applicant's review
