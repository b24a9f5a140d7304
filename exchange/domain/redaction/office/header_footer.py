"""Print headers and footers of sheets and charts (``&L&"Arial,Bold"Kestrel&RPage &P``).

A SpreadsheetML (and DrawingML chart) header or footer is one string of
formatting codes and text: ``&L``, ``&C`` and ``&R`` start the left, centre
and right sections, ``&P``, ``&N``, ``&D``, ``&T``, ``&F``, ``&A``, ``&Z``
and ``&G`` are fields (page, pages, date, time, file, sheet, path, picture),
``&B``, ``&I``, ``&U``… toggle formatting, ``&"font,style"`` picks a font,
``&12`` a size, ``&K`` plus six characters a colour, and ``&&`` is one ``&``.
Read as a whole string, the text a reader sees is glued to the codes
(``&CKestrel``) and no word boundary is found.

Invariants: each section's text (the literal pieces joined, a field standing
for one space that is never edited) is what the plan is asked about; spans
are cut out of the literal pieces only, the replacement going into the first
piece a span touches, and every code is written back as it was, so the
header prints the same apart from what was removed. A literal ``&`` is
written back as ``&&``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.redaction.text import BOX

Find = Callable[[str], Sequence[Redaction]]

#: local names of the elements holding header and footer strings (worksheets, chartsheets, charts)
HEADER_FOOTER = frozenset(
    {"oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter"}
)
_SECTIONS = frozenset("LCR")
_FIELDS = frozenset("PNDTFAZG")
_CODE = re.compile(r'&(?:"[^"]*"?|\d{1,3}|K[0-9A-Fa-f+\-]{0,6}|.)', re.DOTALL)


@dataclass(slots=True)
class Piece:
    #: the literal text (unescaped), or the code exactly as written
    text: str
    code: bool
    #: what the piece stands for in its section's text ("" for formatting codes)
    shown: str = ""


def parse(value: str) -> list[list[Piece]]:
    """The sections of a header or footer string, each a list of pieces in order."""
    sections: list[list[Piece]] = [[]]
    cursor = 0
    literal: list[str] = []

    def flush() -> None:
        if literal:
            sections[-1].append(Piece("".join(literal), code=False, shown="".join(literal)))
            literal.clear()

    while cursor < len(value):
        amp = value.find("&", cursor)
        if amp < 0:
            literal.append(value[cursor:])
            break
        literal.append(value[cursor:amp])
        match = _CODE.match(value, amp)
        code = match.group() if match is not None else "&"
        cursor = amp + len(code)
        if code == "&&":
            literal.append("&")
            continue
        flush()
        letter = code[1:2]
        if letter in _SECTIONS and len(code) == 2:
            sections.append([Piece(code, code=True)])
        else:
            sections[-1].append(
                Piece(code, code=True, shown=" " if letter in _FIELDS and len(code) == 2 else "")
            )
    flush()
    return [s for s in sections if s]


def section_text(section: Sequence[Piece]) -> str:
    return "".join(p.shown for p in section)


def texts(value: str) -> list[str]:
    """The text of each section a reader sees, as the plan is asked about it."""
    return [t for t in (section_text(s) for s in parse(value)) if t.strip()]


def serialise(sections: Sequence[Sequence[Piece]]) -> str:
    return "".join(p.text if p.code else p.text.replace("&", "&&") for s in sections for p in s)


def redact(value: str, find: Find) -> tuple[str | None, list[str]]:
    """(the string with what the plan finds cut out of its texts, or None; entity types removed)."""
    sections = parse(value)
    found: list[str] = []
    for section in sections:
        text = section_text(section)
        spans = find(text) if text.strip() else ()
        if not spans:
            continue
        found.extend(s.entity_type for s in spans)
        _cut(section, spans)
    if not found:
        return None, []
    return serialise(sections), found


def _cut(section: list[Piece], spans: Sequence[Redaction]) -> None:
    bounds, offset = [], 0
    for piece in section:
        bounds.append((offset, offset + len(piece.shown)))
        offset += len(piece.shown)
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for red in merge_redactions(spans):
        placed = False
        for index, (start, end) in enumerate(bounds):
            if section[index].code or end <= red.start or start >= red.end:
                continue
            lo, hi = max(red.start, start) - start, min(red.end, end) - start
            edits.setdefault(index, []).append((lo, hi, "" if placed else red.replacement or BOX))
            placed = True
    for index, cuts in edits.items():
        text = section[index].text
        for lo, hi, insert in sorted(cuts, reverse=True):
            text = text[:lo] + insert + text[hi:]
        section[index].text = section[index].shown = text
