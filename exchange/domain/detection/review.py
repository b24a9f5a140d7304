"""The applicant's review of one file: decisions that override detection, and manual boxes.

Invariants:

* A decision is about a *value* in one file for one recipient, not about one
  offset: engines ask the planner about texts that are cut differently from
  the units detection read (runs joined into paragraphs, OCR lines), so an
  offset from the review could not be found again. "Keep" leaves every
  occurrence of the value visible to that recipient; "redact" removes every
  occurrence, wherever it is, even where the policy would keep it or detection
  did not find it (a text selection is a "redact" of the selected value).
* A manual box is in fractions of the page's width and height, origin top
  left, so the same box means the same region for a PDF page rendered at any
  resolution and for an image. Engines that cannot paint a box withhold the
  file rather than share it unboxed.
* :meth:`FileReview.fingerprint` changes exactly when what an engine would
  produce for the file could change, so a re-run can skip untouched files.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exchange.domain.detection.normalise import fold
from exchange.domain.errors import InvalidInput

#: entity type reported for spans removed because the applicant asked for it
MANUAL = "MANUAL"
#: smallest box side, as a fraction of the page: smaller boxes are misclicks
MIN_BOX_SIDE = 0.002
#: longest value a decision or text selection may name
MAX_VALUE_LENGTH = 500


@dataclass(frozen=True, slots=True)
class ManualBox:
    """A region to paint over on one page (or image frame), numbered from 1."""

    page: int
    #: left, top, right, bottom as fractions of the page, origin top left
    box: tuple[float, float, float, float]

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box on a ``width`` x ``height`` raster, rounded outwards so nothing is missed."""
        left, top, right, bottom = self.box
        return (
            max(0, math.floor(left * width)),
            max(0, math.floor(top * height)),
            min(width, math.ceil(right * width)),
            min(height, math.ceil(bottom * height)),
        )


def parse_box(page: Any, box: Any) -> ManualBox:
    """A :class:`ManualBox` from untrusted input, or InvalidInput with a one-line reason."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInput("page must be a whole number from 1")
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise InvalidInput("box must be [left, top, right, bottom] as fractions of the page")
    values: list[float] = []
    for value in box:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput("box values must be numbers between 0 and 1")
        values.append(float(value))
    left, top, right, bottom = values
    if not all(0.0 <= v <= 1.0 for v in values):
        raise InvalidInput("box values must be between 0 and 1 (fractions of the page)")
    if right - left < MIN_BOX_SIDE or bottom - top < MIN_BOX_SIDE:
        raise InvalidInput("box must have left < right and top < bottom, and not be empty")
    return ManualBox(page, (left, top, right, bottom))


def check_value(value: Any) -> str:
    """A decision's or selection's value from untrusted input."""
    if not isinstance(value, str) or not fold(value):
        raise InvalidInput("the text to redact is empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput(f"the text to redact is longer than {MAX_VALUE_LENGTH} characters")
    return value


@dataclass(frozen=True, slots=True)
class RecipientReview:
    """What the applicant decided for one recipient of one file."""

    #: values (as found) the recipient may see although detection would remove them
    keep: frozenset[str] = frozenset()
    #: values removed wherever they occur, whatever the policy says
    redact: frozenset[str] = frozenset()
    boxes: tuple[ManualBox, ...] = ()

    @property
    def kept_folds(self) -> frozenset[str]:
        return frozenset(fold(v) for v in self.keep)

    @property
    def redacted_folds(self) -> frozenset[str]:
        return frozenset(fold(v) for v in self.redact)

    def is_empty(self) -> bool:
        return not (self.keep or self.redact or self.boxes)


@dataclass(frozen=True, slots=True)
class FileReview:
    """The review of one file: recipient name -> :class:`RecipientReview`."""

    recipients: Mapping[str, RecipientReview] = field(default_factory=dict)

    def for_recipient(self, recipient: str) -> RecipientReview:
        return self.recipients.get(recipient, EMPTY_REVIEW)

    def fingerprint(self) -> str:
        """A stable digest of everything that changes an engine's output; "" when empty."""
        plain = {
            name: {
                "keep": sorted({fold(v) for v in r.keep}),
                "redact": sorted({fold(v) for v in r.redact}),
                "boxes": sorted([b.page, *b.box] for b in r.boxes),
            }
            for name, r in sorted(self.recipients.items())
            if not r.is_empty()
        }
        if not plain:
            return ""
        encoded = json.dumps(plain, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()


EMPTY_REVIEW = RecipientReview()


def build_review(
    decisions: Iterable[tuple[str, str, str]], boxes: Iterable[tuple[Iterable[str], ManualBox]]
) -> FileReview:
    """A :class:`FileReview` from stored rows.

    ``decisions`` are ``(recipient, value, "keep"|"redact")``; when one value
    has both for a recipient the later one wins (rows come in creation order).
    ``boxes`` are ``(recipients, box)``.
    """
    chosen: dict[str, dict[str, tuple[str, str]]] = {}
    for recipient, value, decision in decisions:
        if decision not in ("keep", "redact"):
            raise InvalidInput("decision must be 'redact' or 'keep'")
        chosen.setdefault(recipient, {})[fold(value)] = (value, decision)
    painted: dict[str, list[ManualBox]] = {}
    for recipients, box in boxes:
        for recipient in recipients:
            painted.setdefault(recipient, []).append(box)
    out: dict[str, RecipientReview] = {}
    for recipient in sorted(set(chosen) | set(painted)):
        values = chosen.get(recipient, {}).values()
        out[recipient] = RecipientReview(
            keep=frozenset(v for v, d in values if d == "keep"),
            redact=frozenset(v for v, d in values if d == "redact"),
            boxes=tuple(painted.get(recipient, ())),
        )
    return FileReview(out)
