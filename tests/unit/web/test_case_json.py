"""The review facts the case JSON takes from an engine report, old and new schema alike."""

from __future__ import annotations

from exchange.domain.redaction.base import new_report
from exchange.web.api.v1 import report_summary


def test_ocr_review_and_withheld_come_from_the_report() -> None:
    report = new_report("image")
    report["ocr"] = {
        "used": True,
        "images": 3,
        "mean_confidence": 81.5,
        "min_confidence": 42.0,
        "low_confidence_images": [2],
    }
    report.update(needs_review=True, review_reasons=["OCR confidence below 70 on page 2"])
    report["withheld"] = "an embedded image could not be read"
    summary = report_summary(report)
    assert summary["ocr"] == {
        "used": True,
        "images": 3,
        "mean_confidence": 81.5,
        "min_confidence": 42.0,
        "low_confidence_images": 1,
    }
    assert summary["needs_review"] is True
    assert summary["review_reasons"] == ["OCR confidence below 70 on page 2"]
    assert summary["withheld"] == "an embedded image could not be read"


def test_reports_from_before_the_engine_schema_read_as_no_ocr() -> None:
    for old in (None, {"kind": "text", "redactions": {}, "verification": {"ok": True, "leaks": 0}}):
        summary = report_summary(old)
        assert summary["ocr"]["used"] is False and summary["ocr"]["images"] == 0
        assert summary["needs_review"] is False and summary["withheld"] is None
