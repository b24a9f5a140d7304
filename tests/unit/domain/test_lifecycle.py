"""The case lifecycle table: what each party may do in each state."""

from __future__ import annotations

import pytest

from exchange.domain.errors import Conflict, InvalidInput
from exchange.domain.lifecycle import Action, allowed_actions, parse_bureau_status, require


def test_a_sealed_case_is_read_only_for_the_applicant() -> None:
    assert allowed_actions("sealed", "applicant", has_bundles=True) == {Action.ARCHIVE}
    with pytest.raises(Conflict, match="read-only"):
        require(Action.UPLOAD, "sealed", "applicant", has_bundles=True)


def test_a_supplement_needs_the_bureau_to_ask() -> None:
    assert Action.SUPPLEMENT not in allowed_actions("sealed", "applicant", has_bundles=True)
    asked = allowed_actions("sealed", "applicant", bureau_status="information_requested", has_bundles=True)
    assert Action.SUPPLEMENT in asked


def test_workers_own_processing_and_sealing() -> None:
    for status in ("processing", "sealing"):
        assert allowed_actions(status, "applicant") == frozenset()
    with pytest.raises(Conflict, match="being processed"):
        require(Action.SUBMIT, "processing", "applicant")


def test_review_allows_approval_and_edits() -> None:
    actions = allowed_actions("review", "applicant")
    assert {Action.APPROVE, Action.UPLOAD, Action.REVIEW, Action.SUBMIT} <= actions
    with pytest.raises(Conflict, match="only a case in review"):
        require(Action.APPROVE, "draft", "applicant")


def test_the_bureau_acts_on_sealed_bundles_only() -> None:
    bureau = allowed_actions("sealed", "bureau", has_bundles=True)
    assert bureau == {Action.REQUEST_INFORMATION, Action.SET_STATUS}
    assert allowed_actions("draft", "bureau", has_bundles=False) == frozenset()
    assert allowed_actions("sealed", "supplier", has_bundles=True) == frozenset()


def test_archived_cases_only_unarchive() -> None:
    assert allowed_actions("review", "applicant", archived=True) == {Action.UNARCHIVE}
    with pytest.raises(Conflict, match="archived"):
        require(Action.APPROVE, "review", "applicant", archived=True)


def test_bureau_status_values() -> None:
    assert parse_bureau_status("approved").value == "approved"
    with pytest.raises(InvalidInput):
        parse_bureau_status("maybe")
