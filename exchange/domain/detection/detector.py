"""Detection: declared terms, named patterns and Presidio/NER, with decisions.

``Detector(policy).scan(text)`` returns every :class:`Finding` in ``text`` with
a :class:`Decision` for each recipient of the policy.

Layers, in order of authority:

1. Declared terms (customers, trade secrets) — certain (score 1.0; a
   customer's short name 0.9). See :mod:`.terms` for the variant rules.
2. Named patterns from the policy — certain (1.0), run on RE2.
3. Presidio's built-in recognizers and spaCy NER — scored guesses. A NER
   PERSON/ORGANIZATION finding that overlaps a declared term is dropped (the
   declared term already says what it is). An undeclared ORGANIZATION is a
   *suggestion* for the applicant to review: it is only redacted for a
   recipient whose redact list names ORGANIZATION.

Decision rule for one finding and one recipient, first match wins:
type not in the recipient's redact list → keep; the finding designates a keep
term → keep; score below the recipient's threshold for the type → keep;
otherwise redact. Each decision carries its reason in words.

Invariant: offsets index the scanned text exactly (``text[f.start:f.end] ==
f.text``), whatever folding matching used internally.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from exchange.domain.detection.engine import AnalysisEngine, shared_engine
from exchange.domain.detection.findings import Decision, Finding
from exchange.domain.detection.normalise import FoldedText, fold
from exchange.domain.detection.patterns import PatternMatcher
from exchange.domain.detection.policy import (
    DECLARED_ENTITY_TYPES,
    PRESIDIO_ENTITY_TYPES,
    Policy,
    RecipientPolicy,
    declared_keys,
)
from exchange.domain.detection.terms import CUSTOMER, TermHit, TermMatcher, build_terms, name_key

DECLARED_RECOGNIZER = "DeclaredTermRecognizer"
PATTERN_RECOGNIZER = "PolicyPatternRecognizer"
NER_RECOGNIZER = "SpacyRecognizer"
#: NER types that a declared term overrides when they overlap.
_NER_NAME_TYPES = frozenset({"PERSON", "ORGANIZATION", "NRP", "LOCATION"})
#: Always looked for, so undeclared organisations surface as suggestions.
SUGGESTION_TYPES = frozenset({"ORGANIZATION"})
_KIND = {CUSTOMER: "customer", "TRADE_SECRET": "trade secret"}


@dataclass(frozen=True)
class _KeepRule:
    """What one recipient's keep list designates."""

    terms: frozenset[str]  # declared terms (as declared) that stay visible
    keys: frozenset[str]  # name keys / folded forms of the keep terms

    def applies(self, finding: Finding) -> str | None:
        if finding.term is not None and finding.term in self.terms:
            return finding.term
        if self.keys and (_name_key(finding.text) in self.keys or _fold(finding.text) in self.keys):
            return finding.text
        return None


# The same names recur in every document and for every recipient; their keys
# are pure functions of the text.
_name_key = lru_cache(maxsize=4096)(name_key)
_fold = lru_cache(maxsize=4096)(fold)


@dataclass(frozen=True)
class CompiledPolicy:
    terms: TermMatcher
    patterns: PatternMatcher
    keep: dict[str, _KeepRule]


@lru_cache(maxsize=32)
def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a policy's matchers once (policies hash by content)."""
    keep: dict[str, _KeepRule] = {}
    declared = (*policy.customers, *policy.trade_secrets)
    for name, recipient in policy.recipients.items():
        designated: set[str] = set()
        keys: set[str] = set()
        for term in recipient.keep:
            wanted = {name_key(term), fold(term)}
            keys |= wanted
            designated |= {d for d in declared if wanted & declared_keys(d)}
        keep[name] = _KeepRule(frozenset(designated), frozenset(keys))
    return CompiledPolicy(
        terms=TermMatcher(
            build_terms(policy.customers, policy.trade_secrets, short_names=policy.short_names)
        ),
        patterns=PatternMatcher(policy.patterns),
        keep=keep,
    )


def decide(finding: Finding, recipient: RecipientPolicy, keep: _KeepRule | None = None) -> Decision:
    """The decision for one finding and one recipient (see module docstring)."""
    etype = finding.entity_type
    who = recipient.name
    if etype not in recipient.redact:
        if finding.suggestion:
            return Decision(
                "keep",
                f"suggestion only: undeclared organisation found by NER; not redacted for {who} "
                "unless declared as a customer (or ORGANIZATION added to its redact list)",
            )
        return Decision("keep", f"{etype} is not in {who}'s redact list")
    kept = keep.applies(finding) if keep is not None else None
    if kept is not None:
        return Decision("keep", f"'{kept}' is a keep term for {who}")
    threshold = recipient.threshold_for(etype)
    if finding.score < threshold:
        return Decision(
            "keep", f"score {finding.score:.2f} is below {who}'s threshold {threshold:.2f} for {etype}"
        )
    why = f"{etype} is redacted for {who}"
    if finding.term is not None:
        why += f" (declared {_KIND.get(etype, 'term')} '{finding.term}')"
    return Decision("redact", why)


class _SpanIndex:
    """Answers "does (start, end) overlap any of these spans?" in log time.

    Spans sorted by start, with the running maximum of their ends: the spans
    starting before ``end`` are a prefix, and one of them reaches past
    ``start`` exactly when the prefix's maximum end does.
    """

    def __init__(self, spans: Sequence[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        self._reach: list[int] = []
        reach = -1
        for _, end in ordered:
            reach = max(reach, end)
            self._reach.append(reach)

    def overlaps(self, start: int, end: int) -> bool:
        before = bisect.bisect_left(self._starts, end)
        return before > 0 and self._reach[before - 1] > start


class Detector:
    """Find sensitive spans per the policy; cheap to build after the first one."""

    def __init__(self, policy: Policy, *, engine: AnalysisEngine | None = None) -> None:
        self.policy = policy
        self._engine = engine if engine is not None else shared_engine()
        self._compiled = compile_policy(policy)
        wanted = SUGGESTION_TYPES | (policy.entity_types() & PRESIDIO_ENTITY_TYPES)
        self._presidio_types = sorted(wanted)

    def scan(self, text: str) -> list[Finding]:
        return self.scan_many([text])[0]

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Scan several texts with one batched NLP pass."""
        texts = list(texts)
        presidio = self._engine.analyze_many(texts, self._presidio_types)
        return [self._findings(text, results) for text, results in zip(texts, presidio, strict=True)]

    # -- internals -----------------------------------------------------------

    def _findings(self, text: str, presidio_results: Sequence[Any]) -> list[Finding]:
        found: list[Finding] = []
        folded = FoldedText(text)
        for hit in _drop_contained(self._compiled.terms.find(folded)):
            matched = text[hit.start : hit.end]
            kind = _KIND.get(hit.entity_type, "term")
            if hit.form == "short name":
                why = f"short name of declared {kind} '{hit.term}'"
            else:
                why = f"declared {kind} '{hit.term}'"
                if _fold(matched) != _fold(hit.term):
                    why += f" (variant form '{_one_line(matched)}')"
            found.append(
                Finding(
                    hit.entity_type,
                    hit.start,
                    hit.end,
                    matched,
                    hit.score,
                    DECLARED_RECOGNIZER,
                    why,
                    term=hit.term,
                )
            )
        for phit in self._compiled.patterns.find(text):
            found.append(
                Finding(
                    phit.entity_type,
                    phit.start,
                    phit.end,
                    text[phit.start : phit.end],
                    1.0,
                    PATTERN_RECOGNIZER,
                    f"named pattern {phit.entity_type} /{phit.pattern}/",
                )
            )
        # NER names overlapping a declared term or named pattern are the same
        # thing, guessed less well; the declared finding stands alone.
        declared_spans = _SpanIndex([(f.start, f.end) for f in found])
        for result in presidio_results:
            found.extend(self._from_presidio(text, result, declared_spans))
        found.sort(key=lambda f: (f.start, f.end, f.entity_type))
        return [self._with_decisions(f) for f in found]

    def _from_presidio(self, text: str, result: Any, declared_spans: _SpanIndex) -> list[Finding]:
        # ``result`` is a presidio RecognizerResult (untyped upstream).
        etype: str = result.entity_type
        start: int = result.start
        end: int = result.end
        score = float(result.score)
        meta = result.recognition_metadata or {}
        recognizer = str(meta.get("recognizer_name", "presidio"))
        if end <= start:
            return []
        is_ner = recognizer == NER_RECOGNIZER
        if is_ner and etype in _NER_NAME_TYPES and declared_spans.overlaps(start, end):
            return []
        explanation = ""
        detail = getattr(result, "analysis_explanation", None)
        if detail is not None:
            explanation = str(getattr(detail, "textual_explanation", "") or "")
            context = getattr(detail, "supportive_context_word", "")
            if context:
                explanation += f"; context word '{context}'"
        suggestion = is_ner and etype == "ORGANIZATION"
        if suggestion:
            explanation += "; undeclared organisation: review and declare it as a customer if it is one"
        return [
            Finding(
                etype,
                start,
                end,
                text[start:end],
                round(score, 4),
                recognizer,
                explanation,
                suggestion=suggestion,
            )
        ]

    def _with_decisions(self, finding: Finding) -> Finding:
        decisions = {
            name: decide(finding, recipient, self._compiled.keep.get(name))
            for name, recipient in self.policy.recipients.items()
        }
        return Finding(
            finding.entity_type,
            finding.start,
            finding.end,
            finding.text,
            finding.score,
            finding.recognizer,
            finding.explanation,
            decisions,
            finding.suggestion,
            finding.term,
        )


def _drop_contained(hits: Sequence[TermHit]) -> list[TermHit]:
    """Drop a declared hit inside another hit of the same type (short name in full name)."""
    ordered = sorted(hits, key=lambda h: (h.start, -h.end))
    kept: list[TermHit] = []
    # Every kept hit starts at or before the current one, so the current one
    # lies inside one of its type exactly when that type's furthest end
    # reaches its end (linear, where comparing with each kept hit was not).
    reach: dict[str, int] = {}
    for hit in ordered:
        furthest = reach.get(hit.entity_type, -1)
        if hit.end <= furthest:
            continue
        kept.append(hit)
        reach[hit.entity_type] = hit.end
    return kept


def _one_line(text: str) -> str:
    return " ".join(text.split())


def is_declared_type(entity_type: str) -> bool:
    return entity_type in DECLARED_ENTITY_TYPES
