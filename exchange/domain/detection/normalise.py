"""Text folding shared by detection and by every verifier.

Two forms live here:

``fold(text)``
    The comparison form. Unicode compatibility-normalised, case-folded,
    diacritics stripped, letters without a decomposition transliterated
    (``ø``→``o``, ``æ``→``ae``, ``ł``→``l``…), dashes and apostrophes unified,
    invisible characters (soft hyphen, zero-width joiners, BOM) dropped, a word
    hyphenated across a line end joined, and every run of whitespace collapsed
    to one space. Verifiers fold both an output and the redacted values so that
    a leak cannot hide behind a different spelling of the same name.

    Invariant: ``fold(fold(x)) == fold(x)`` (tested on adversarial strings).

``FoldedText``
    The matching form used by detection: the same per-character folding, but
    whitespace is kept one-for-one (so that ``\\n`` still marks a line end) and
    every folded character remembers the original span it came from. Matches
    found in the folded text are mapped back with :meth:`FoldedText.to_original`,
    so offsets in findings always index the text that was scanned.

Threat assumption: documents come from arbitrary producers (PDF text layers,
OCR, mail exports). We assume spelling variants are accidental, not an attacker
hiding a name from us; but the folding is deliberately broad because a missed
variant is a leak while an extra variant only costs a little precision.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from functools import lru_cache

_SPACE_RUN = re.compile(r"\s+")
# A word hyphenated across a line end: "Kes-\ntrel" reads as "Kestrel".
_SOFT_BREAK = re.compile(r"[-\u00ad\u2010\u2011]\s*\n\s*")

#: Characters that render as nothing; a producer may put them inside a word. These are
#: Unicode's default-ignorable code points (DerivedCoreProperties.txt): soft hyphen,
#: zero-width characters, bidi marks and overrides, the combining grapheme joiner,
#: variation selectors and tag characters. A name with U+202E or U+FE0F inside
#: renders exactly like the name and must match like it.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
_INVISIBLE = frozenset(chr(c) for lo, hi in _INVISIBLE_RANGES for c in range(lo, hi + 1))
#: Every dash-like character folds to ASCII hyphen-minus.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d"
#: Every apostrophe-like character folds to ASCII apostrophe.
_APOSTROPHES = "\u2018\u2019\u201b\u02bc\u2032\uff07`"
#: Letters Unicode does not decompose into a base letter plus a mark.
_TRANSLITERATE = {
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "æ": "ae",
    "œ": "oe",
    "ĸ": "k",
    "ŀ": "l",
    # Cyrillic and Greek letters drawn exactly like Latin ones (after case folding, so
    # those whose capital is the lookalike count too): "Kеstrel" with a Cyrillic "е"
    # reads as the name, and is folded like it on both sides of every comparison.
    **dict(zip("авекмнорстухѕіјԁһԛԝӏ", "abekmhopctyxsijdhqwl", strict=True)),
    **dict(zip("αβεζηικμνορτυχ", "abezhikmnoptyx", strict=True)),
}
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

_FOLD_TABLE = str.maketrans(
    {
        **dict.fromkeys(_INVISIBLE, ""),
        **dict.fromkeys(_DASHES, "-"),
        **dict.fromkeys(_APOSTROPHES, "'"),
        **_TRANSLITERATE,
    }
)


def strip_diacritics(text: str) -> str:
    if text.isascii():
        # ASCII is its own decomposition and has no combining marks; the per-character
        # loop below was half the time of verifying a large workbook.
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """The comparison form of ``text`` (idempotent; see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = _SOFT_BREAK.sub("", text)
    # Case-fold before stripping marks: casefold("İ") yields "i" plus a
    # combining dot, which must be stripped in the same pass to stay idempotent.
    text = strip_diacritics(text.casefold())
    text = text.translate(_FOLD_TABLE)
    text = _SOFT_BREAK.sub("", text)
    return _SPACE_RUN.sub(" ", text).strip()


def expand_umlauts(text: str) -> str:
    """German/Nordic transliteration: ``Müller`` → ``Mueller``, ``Søren`` → ``Soeren``."""
    return unicodedata.normalize("NFC", text).translate(_UMLAUT_TABLE)


_UMLAUT_TABLE = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "Ä": "Ae",
        "Ö": "Oe",
        "Ü": "Ue",
        "ø": "oe",
        "Ø": "Oe",
        "å": "aa",
        "Å": "Aa",
    }
)


# --- the matching form ---------------------------------------------------

# ASCII characters fold one-for-one: lower case, "_" reads as a space (file
# names, identifiers), exotic ASCII separators read as line breaks, "`" as an
# apostrophe.
_ASCII_TABLE = str.maketrans(
    {
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
        "_": " ",
        "`": "'",
        "\x0b": "\n",
        "\x0c": "\n",
        "\x1c": "\n",
        "\x1d": "\n",
        "\x1e": "\n",
        "\x1f": " ",
    }
)
# Runs that need more than the ASCII table: any non-ASCII character, and a
# hyphen (ASCII or Unicode) followed by a line break, which is removed.
_SPECIAL = re.compile(r"[-\u00ad\u2010\u2011\u2012\u2013][ \t\u00a0]*\r?\n[ \t\r\n\u00a0]*|[^\x00-\x7f]")


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """Matching-form fold of one character (may be empty or several characters)."""
    if ch in _INVISIBLE:
        return ""
    if ch.isspace():
        return "\n" if ch in _LINE_BREAKS else " "
    if ch in _DASHES:
        return "-"
    if ch in _APOSTROPHES:
        return "'"
    if ch.isascii():
        return ch.translate(_ASCII_TABLE)
    text = strip_diacritics(unicodedata.normalize("NFKC", ch).casefold())
    text = text.translate(_FOLD_TABLE)
    # NFKC can turn a single character into spaces (e.g. "¨" → " ̈"); keep
    # whitespace one-for-one so the regexes see a separator.
    return "".join(" " if c.isspace() else c for c in text)


class FoldedText:
    """A string in matching form with a map back to the original offsets.

    ``starts[i]``/``ends[i]`` give the original span of folded character ``i``.
    For ASCII text without line-end hyphenation the map is the identity and is
    not materialised (``starts is None``), which keeps large plain documents
    cheap.
    """

    __slots__ = ("ends", "original", "starts", "text")

    def __init__(self, original: str) -> None:
        self.original = original
        self.starts: array[int] | None = None
        self.ends: array[int] | None = None
        if original.isascii() and _SPECIAL.search(original) is None:
            self.text = original.translate(_ASCII_TABLE)
            return
        pieces: list[str] = []
        starts: array[int] = array("q")
        ends: array[int] = array("q")
        pos = 0
        for match in _SPECIAL.finditer(original):
            begin, stop = match.span()
            if begin > pos:
                pieces.append(original[pos:begin].translate(_ASCII_TABLE))
                starts.extend(range(pos, begin))
                ends.extend(range(pos + 1, begin + 1))
            if stop - begin == 1:
                folded = fold_char(original[begin])
                if folded:
                    pieces.append(folded)
                    starts.extend([begin] * len(folded))
                    ends.extend([stop] * len(folded))
            # else: a hyphen + line break, dropped so the word reads joined.
            pos = stop
        if pos < len(original):
            pieces.append(original[pos:].translate(_ASCII_TABLE))
            starts.extend(range(pos, len(original)))
            ends.extend(range(pos + 1, len(original) + 1))
        self.text = "".join(pieces)
        self.starts = starts
        self.ends = ends

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty folded span ``[start, end)`` to the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


# Letter-spacing for emphasis, as extractors read it ("K e s t r e l"): a run of lone characters
# (each with whitespace or the text's edge on both sides, allowing an opening bracket or quote
# before and closing punctuation after it, as in "( A C M E )," or "G m b H,") separated by one
# space-like character each. Only those spaces are removed, so ordinary words are never glued
# together ("cloak ridge" stays two words) and a wider gap, a tab or a line break still separates
# words. Two lone characters already form a run: short values need it, since "3 M", "B P" or
# "L i  W u" must join too.
_SPACE_CHARS = " \u00a0\u2009\u202f"
_LONE = r"[(\['\"]?\S[.,;:!?)\]'\"]{0,2}"
SPACED_RUN = re.compile(rf"(?<!\S){_LONE}(?:[{_SPACE_CHARS}]{_LONE})+(?!\S)")
_RUN_SPACES = re.compile(rf"[{_SPACE_CHARS}]")


def join_spaced_runs(text: str) -> str:
    """``text`` with letter-spaced runs joined up ("K e s t r e l" → "Kestrel").

    A wider gap ends a word, so "K e s t r e l  D y n a m i c s" reads
    "Kestrel  Dynamics"; producers that space words by one space give
    "KestrelDynamics", which is why values are also compared without their
    inner spaces in the joined view.
    """
    return SPACED_RUN.sub(lambda m: _RUN_SPACES.sub("", m.group(0)), text)
