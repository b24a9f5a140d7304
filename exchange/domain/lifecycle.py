"""A case's lifecycle: its states, what each party may do in each, and the bureau's status.

Services ask :func:`require` before changing a case and pages show only
:func:`allowed_actions`, so the rule lives here once.

Invariants:

* Processing and sealing belong to the workers: no person acts on a case
  while it is in either (the case page shows progress instead).
* A sealed case is read-only. The one way to change what was shared is a
  supplement, allowed only while the bureau has asked for more information;
  it reopens the case as a draft of the next version, and sealing that
  version produces new bundles linked to the previous ones.
* An archived case accepts no action but reading (and un-archiving).
* The bureau's status (under review, information requested, approved,
  rejected) is the bureau's statement about the application; it does not
  move the case's own state except through a supplement.
"""

from __future__ import annotations

from enum import StrEnum

from exchange.domain.errors import Conflict, InvalidInput


class CaseState(StrEnum):
    DRAFT = "draft"
    PROCESSING = "processing"
    REVIEW = "review"
    SEALING = "sealing"
    SEALED = "sealed"
    FAILED = "failed"


class BureauStatus(StrEnum):
    UNDER_REVIEW = "under_review"
    INFORMATION_REQUESTED = "information_requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Action(StrEnum):
    # the applicant's
    UPLOAD = "upload"
    DELETE_FILE = "delete_file"
    EDIT_POLICY = "edit_policy"
    SUBMIT = "submit"
    REVIEW = "review"  # decisions, manual boxes, text selections
    APPROVE = "approve"
    SUPPLEMENT = "supplement"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    # the bureau's
    REQUEST_INFORMATION = "request_information"
    SET_STATUS = "set_status"


_EDITING = frozenset({Action.UPLOAD, Action.DELETE_FILE, Action.EDIT_POLICY, Action.SUBMIT, Action.REVIEW})

_APPLICANT: dict[CaseState, frozenset[Action]] = {
    CaseState.DRAFT: _EDITING | {Action.ARCHIVE},
    CaseState.PROCESSING: frozenset(),
    CaseState.REVIEW: _EDITING | {Action.APPROVE, Action.ARCHIVE},
    CaseState.FAILED: _EDITING | {Action.ARCHIVE},
    CaseState.SEALING: frozenset(),
    CaseState.SEALED: frozenset({Action.ARCHIVE}),
}

_BUREAU: dict[CaseState, frozenset[Action]] = {
    CaseState.SEALED: frozenset({Action.REQUEST_INFORMATION, Action.SET_STATUS}),
}

#: the case states in which files, policy and review may change
EDITABLE = frozenset(s for s, actions in _APPLICANT.items() if Action.UPLOAD in actions)

#: why an action is refused, in the words the applicant reads
_REFUSALS = {
    CaseState.PROCESSING: "the case is being processed; wait until it is ready for review",
    CaseState.SEALING: "the case is being sealed; wait until its bundles are ready",
    CaseState.SEALED: "the case is sealed and read-only",
}


def _state(status: str) -> CaseState:
    try:
        return CaseState(status)
    except ValueError:
        raise Conflict(f"the case is in an unknown state ({status})") from None


def allowed_actions(
    status: str,
    role: str,
    *,
    bureau_status: str | None = None,
    archived: bool = False,
    has_bundles: bool = False,
) -> frozenset[Action]:
    """What a user with ``role`` may do to a case in this state now."""
    state = _state(status)
    if archived:
        return frozenset({Action.UNARCHIVE}) if role == "applicant" else frozenset()
    if role == "applicant":
        actions = set(_APPLICANT[state])
        if has_bundles and state == CaseState.SEALED and bureau_status == BureauStatus.INFORMATION_REQUESTED:
            actions.add(Action.SUPPLEMENT)
        return frozenset(actions)
    if role == "bureau":
        # A supplement in progress leaves the previous version sealed for the bureau to act on.
        return _BUREAU.get(state, frozenset()) if has_bundles else frozenset()
    return frozenset()


def require(
    action: Action,
    status: str,
    role: str,
    *,
    bureau_status: str | None = None,
    archived: bool = False,
    has_bundles: bool = False,
) -> None:
    """Raise :class:`Conflict` with a one-line reason unless ``action`` is allowed now."""
    allowed = allowed_actions(
        status, role, bureau_status=bureau_status, archived=archived, has_bundles=has_bundles
    )
    if action in allowed:
        return
    if archived:
        raise Conflict("the case is archived; restore it first")
    state = _state(status)
    if action == Action.SUPPLEMENT:
        raise Conflict("a supplement can be sent only when the bureau has asked for more information")
    if action == Action.APPROVE and state in (CaseState.DRAFT, CaseState.FAILED):
        raise Conflict(f"only a case in review can be approved; this one is {state.value}")
    if role == "bureau":
        raise Conflict("the bureau can act on a case once its bundle is sealed")
    raise Conflict(_REFUSALS.get(state, f"the case is {state.value}; this cannot be done now"))


def parse_bureau_status(value: object) -> BureauStatus:
    try:
        return BureauStatus(str(value))
    except ValueError:
        known = ", ".join(s.value for s in BureauStatus)
        raise InvalidInput(f"status must be one of: {known}") from None
