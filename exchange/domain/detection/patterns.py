"""User-supplied named patterns, compiled on a linear-time engine.

Threat: a policy author (or a careless copy-paste) supplies a pattern with
catastrophic backtracking, e.g. ``(a+)+$``; on a backtracking engine one crafted
document then pins a worker for hours. Invariant: every user pattern runs on
RE2, whose run time is linear in the text; a pattern RE2 cannot express
(backreferences, lookaround, possessive quantifiers…) is refused at policy
load with a message that says why, never silently run elsewhere.

Further limits: pattern length (in the schema), RE2 program memory, and
patterns that can match the empty string are refused (they would "find"
something at every position).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2

MAX_PATTERN_MEMORY = 8 << 20

_WHY = "patterns run on RE2, a linear-time engine, so that no document can hang a worker"


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    return options


def _explain(reason: str) -> str:
    if "(?<" in reason or "(?=" in reason or "(?!" in reason:
        return "lookahead/lookbehind is not supported"
    if "invalid escape sequence: \\1" in reason or any(f"\\{d}" in reason for d in "123456789"):
        return "backreferences are not supported"
    if "(?>" in reason or "repetition operator" in reason:
        return f"unsupported construct ({reason})"
    if "pattern too large" in reason:
        return "the pattern is too large (program exceeds the memory budget)"
    return reason


def compile_pattern(pattern: str) -> Any:
    """Compile a user pattern with RE2 or raise ``ValueError`` with a readable reason."""
    try:
        compiled = re2.compile(pattern, options=_options())
    except re2.error as exc:
        raw = exc.args[0] if exc.args else str(exc)
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise ValueError(f"pattern refused: {_explain(reason)}; {_WHY}") from None
    if compiled.fullmatch("") is not None:
        raise ValueError("pattern refused: it matches the empty string, so it would match everywhere")
    return compiled


@dataclass(frozen=True, slots=True)
class PatternHit:
    entity_type: str
    start: int
    end: int
    pattern: str


class PatternMatcher:
    """Run every named pattern over the original (unfolded) text.

    Patterns see the text as written: the author controls case sensitivity
    with ``(?i)``. Zero-length matches are skipped.
    """

    def __init__(self, patterns: dict[str, str]) -> None:
        self._compiled = [(name, source, compile_pattern(source)) for name, source in patterns.items()]

    def find(self, text: str) -> list[PatternHit]:
        hits: list[PatternHit] = []
        for name, source, compiled in self._compiled:
            for match in compiled.finditer(text):
                start, end = match.span()
                if end > start:
                    hits.append(PatternHit(name, start, end, source))
        return hits

    def matches_fully(self, text: str) -> list[str]:
        return [name for name, _, compiled in self._compiled if compiled.fullmatch(text) is not None]
