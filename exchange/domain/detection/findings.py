"""Findings and the per-recipient redactions derived from them.

A :class:`Finding` is what detection reports about one span of text. It is
recipient-independent except for ``decisions``, which records, per recipient
name in the policy, whether the span is redacted or kept and why.

A :class:`Redaction` is the narrow, engine-facing view: one span that must be
removed for one recipient, with the replacement to draw (``None`` means a
solid box / a run of block characters in text). Redaction engines (text, PDF,
...) consume only ``Redaction`` objects, so they never depend on policy logic.

Offsets are Python string indices into the text that detection scanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["redact", "keep"]


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str


@dataclass(frozen=True, slots=True)
class Finding:
    entity_type: str
    start: int
    end: int
    text: str
    score: float
    recognizer: str
    explanation: str = ""
    #: recipient name -> decision; empty when scanned without a policy.
    decisions: Mapping[str, Decision] = field(default_factory=dict)
    #: True for NER guesses the applicant should review (not declared terms).
    suggestion: bool = False
    #: For declared terms: the term exactly as declared in the policy (any
    #: variant form found in the text points back to it); else None.
    term: str | None = None

    def decision_for(self, recipient: str) -> Decision | None:
        return self.decisions.get(recipient)


@dataclass(frozen=True, slots=True)
class Redaction:
    start: int
    end: int
    entity_type: str
    #: text to draw instead, e.g. ``[CUSTOMER-3]``; ``None`` for a solid box.
    replacement: str | None = None


def merge_redactions(redactions: Iterable[Redaction]) -> list[Redaction]:
    """Sort and merge overlapping or touching spans.

    Overlaps must merge, or an engine would leave the characters between two
    partly overlapping findings in place. When spans of different types merge,
    the earlier span's type and replacement win: a label is cosmetic, the
    removal is what matters.
    """
    ordered = sorted(redactions, key=lambda r: (r.start, -r.end))
    merged: list[Redaction] = []
    for red in ordered:
        if red.end <= red.start:
            continue
        if merged and red.start <= merged[-1].end:
            last = merged[-1]
            if red.end > last.end:
                merged[-1] = Redaction(last.start, red.end, last.entity_type, last.replacement)
            continue
        merged.append(red)
    return merged
