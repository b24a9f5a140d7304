"""Plain-text redaction and its verification.

Invariants: a redacted span is replaced whole, never partially; a solid-box
replacement has a fixed width so the output does not reveal the length of
what was removed; verification folds both sides (case, diacritics,
whitespace, line-end hyphenation) so a leak cannot hide behind spelling;
CJK values are also compared with all whitespace removed, since those scripts
put no spaces between words.
"""

from __future__ import annotations

from collections.abc import Sequence

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.detection.normalise import fold, join_spaced_runs
from exchange.domain.detection.terms import has_cjk
from exchange.domain.errors import UnsupportedFile

BOX = "\u2588" * 8


def decode_text(data: bytes) -> str:
    """Decode an uploaded text file; only UTF-8 (with or without BOM) is accepted."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedFile(f"text is not valid UTF-8 (byte {exc.start})") from None
    if "\x00" in text:
        raise UnsupportedFile("text contains NUL bytes; it looks like a binary file")
    return text


def redact_text(text: str, redactions: Sequence[Redaction]) -> str:
    out: list[str] = []
    cursor = 0
    for red in merge_redactions(redactions):
        start, end = max(red.start, cursor), min(red.end, len(text))
        if start >= end:
            continue
        out.append(text[cursor:start])
        out.append(red.replacement if red.replacement else BOX)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def find_leaks(text: str, sensitive_values: Sequence[str]) -> list[str]:
    """Return the sensitive values (as given) whose folded form occurs in ``text``.

    Letter-spaced runs are also read joined up, so "K e s t r e l" cannot
    hide "Kestrel" from the check; a value is compared with and without its
    inner spaces there, since spaced words may be separated by one space.
    """
    haystack = fold(text)
    joined = fold(join_spaced_runs(text))
    compact: str | None = None
    leaks = []
    for value in sensitive_values:
        needle = fold(value)
        if not needle:
            continue
        if needle in haystack or needle in joined or needle.replace(" ", "") in joined:
            leaks.append(value)
        elif has_cjk(needle):
            # CJK puts no spaces between words: spaces or line breaks between its characters
            # ("宁波 瀚海\n磁电") do not separate a name.
            if compact is None:
                compact = haystack.replace(" ", "")
            if needle.replace(" ", "") in compact:
                leaks.append(value)
    return leaks
