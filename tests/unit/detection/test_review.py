"""The applicant's review as the planner applies it: keep, redact, selections, boxes."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.review import MANUAL, FileReview, ManualBox, build_review, parse_box
from exchange.domain.errors import InvalidInput
from exchange.domain.redaction.text import redact_text

POLICY = """\
version: 1
name: review test
terms:
  customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
  trade_secrets: ["grain boundary diffusion"]
recipients:
  bureau: {redact: [CUSTOMER, TRADE_SECRET], keep: ["Oakridge Acoustics Ltd"]}
  supplier: {redact: [CUSTOMER, TRADE_SECRET]}
"""
TEXT = "Order from Kestrel Dynamics GmbH and Oakridge Acoustics Ltd, furnace line 7 in Ningbo."


class _NoNer:
    def analyze_many(self, texts: Any, entities: Any) -> list[list[Any]]:
        return [[] for _ in texts]


def _planner(review: FileReview | None = None) -> RecipientPlanner:
    policy = load_policy(POLICY)
    return RecipientPlanner(Detector(policy, engine=_NoNer()), policy, review=review)  # type: ignore[arg-type]


def _shown(planner: RecipientPlanner, recipient: str) -> tuple[str, list[str]]:
    plan = planner.plan(recipient)
    return redact_text(TEXT, plan.find(TEXT)), plan.sensitive_values


def test_without_review_the_policy_decides() -> None:
    shown, values = _shown(_planner(), "bureau")
    assert "Kestrel" not in shown and "Oakridge Acoustics Ltd" in shown
    assert "Kestrel Dynamics GmbH" in values


def test_keep_leaves_the_value_and_stops_checking_it() -> None:
    review = build_review([("supplier", "Kestrel Dynamics GmbH", "keep")], [])
    shown, values = _shown(_planner(review), "supplier")
    assert "Kestrel Dynamics GmbH" in shown
    assert "Oakridge" not in shown  # other findings still go
    assert not any("kestrel" in v.casefold() for v in values)
    # the other recipient is untouched by a decision made for the supplier
    assert "Kestrel" not in _shown(_planner(review), "bureau")[0]


def test_redact_overrides_a_policy_keep_and_is_checked() -> None:
    review = build_review([("bureau", "Oakridge Acoustics Ltd", "redact")], [])
    shown, values = _shown(_planner(review), "bureau")
    assert "Oakridge" not in shown
    assert "Oakridge Acoustics Ltd" in values


def test_a_text_selection_is_removed_wherever_it_occurs() -> None:
    review = build_review([("supplier", "furnace  LINE 7", "redact")], [])
    planner = _planner(review)
    plan = planner.plan("supplier")
    spans = plan.find(TEXT)
    assert any(s.entity_type == MANUAL for s in spans)
    assert "furnace line 7" not in redact_text(TEXT, spans)
    assert "furnace  LINE 7" in plan.sensitive_values
    # names are redacted the same way
    assert "furnace" not in planner.redact_name("furnace line 7 photos", "supplier")


def test_later_decision_wins_and_reviewed_reports_it() -> None:
    review = build_review(
        [("supplier", "Kestrel Dynamics GmbH", "keep"), ("supplier", "kestrel dynamics gmbh", "redact")], []
    )
    assert review.for_recipient("supplier").keep == frozenset()
    planner = _planner(review)
    finding = next(f for f in planner.findings(TEXT) if f.text == "Kestrel Dynamics GmbH")
    decision = planner.reviewed(finding, "supplier")
    assert decision is not None and decision.action == "redact"


def test_boxes_travel_on_the_plan_for_their_recipients_only() -> None:
    box = parse_box(2, [0.1, 0.2, 0.5, 0.3])
    review = build_review([], [(["supplier"], box)])
    assert _planner(review).plan("supplier").boxes == (box,)
    assert _planner(review).plan("bureau").boxes == ()
    assert box.pixels(1000, 500) == (100, 100, 500, 150)


def test_fingerprint_changes_only_with_content() -> None:
    empty = FileReview()
    assert empty.fingerprint() == ""
    one = build_review([("supplier", "Kestrel", "keep")], [])
    same = build_review([("supplier", "KESTREL", "keep")], [])
    other = build_review([("supplier", "Kestrel", "redact")], [])
    boxed = build_review([("supplier", "Kestrel", "keep")], [(["supplier"], ManualBox(1, (0, 0, 0.5, 0.5)))])
    assert one.fingerprint() == same.fingerprint()
    assert len({one.fingerprint(), other.fingerprint(), boxed.fingerprint()}) == 3


@pytest.mark.parametrize(
    ("page", "box"),
    [
        (0, [0.1, 0.1, 0.2, 0.2]),
        (True, [0.1, 0.1, 0.2, 0.2]),
        (1, [0.1, 0.1, 0.2]),
        (1, [0.3, 0.1, 0.2, 0.2]),
        (1, [0.1, 0.1, 1.2, 0.2]),
        (1, [0.1, "x", 0.2, 0.2]),
        (1, [0.1, float("nan"), 0.2, 0.2]),
        (1, "0.1,0.1,0.2,0.2"),
    ],
)
def test_bad_boxes_are_refused_with_a_reason(page: Any, box: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_box(page, box)
