"""Plain-text redaction, encodings and verification.

Invariants: a redacted span is replaced whole, never partially; a solid-box
replacement has a fixed width so the output does not reveal the length of
what was removed; verification folds both sides (case, diacritics,
whitespace, line-end hyphenation) so a leak cannot hide behind spelling;
CJK values are also compared with all whitespace removed, since those scripts
put no spaces between words.

Encodings are decided by one deterministic rule (:func:`detect_encoding`), so
the same bytes always decode the same way and the output is written back in
the encoding (and with the byte-order mark) the input had:

1. a byte-order mark decides: UTF-8, UTF-32 LE/BE, UTF-16 LE/BE;
2. else strict UTF-8;
3. else GB18030 when the bytes decode strictly and read as Chinese (most
   non-ASCII characters are CJK characters from the GB2312 code area, whose
   two bytes are both >= 0xA1; Latin-1 text decoded as GB18030 instead yields
   pairs of one high byte and one ASCII byte, outside that area);
4. else Windows-1252 when every byte is defined there, else Latin-1.

A statistical detector (charset-normalizer) was considered and not used: its
answer may change between releases and on short inputs, and a redaction whose
output encoding changes with a library upgrade is not reproducible. Content
that decodes only to control characters or NULs is refused as binary.

Text a reader sees other than as its characters (threat: a producer that
encodes a name, or a viewer that decodes it):

* an SVG drawing and long base64 runs (data URIs, mail attachments) are
  refused by :func:`refuse_unreadable`: a browser shows what they encode,
  and the detector cannot read it;
* :func:`alternate_readings` gives the text as an HTML page, a URL, a
  spreadsheet formula or a mis-decoded UTF-8 file would show it
  (``&#75;estrel``, ``Kestrel%20Dynamics``, ``="Kes"&"trel"``). Engines let
  the detector read them and verify their outputs' readings too; a value found
  only there cannot be cut out of the original characters, so the file is
  withheld rather than shared.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.detection.normalise import fold, join_spaced_runs
from exchange.domain.detection.terms import has_cjk
from exchange.domain.errors import UnsupportedFile

BOX = "\u2588" * 8
#: The box for encodings without U+2588 (Latin-1, Windows-1252): same fixed width.
ASCII_BOX = "#" * 8

#: Byte-order marks, longest first (the UTF-32 LE mark starts with UTF-16 LE's).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: C0 and C1 controls except those ordinary text carries (tab, line and page breaks,
#: escape, the DOS end-of-file mark).
_BINARY_CONTROLS = re.compile("[\x01-\x08\x0e-\x19\x1c-\x1f\x7f-\x9f]")
#: Share of non-ASCII characters that must be GB2312-area CJK for the GB18030 reading.
_GB_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class TextEncoding:
    """How a text file was encoded: a Python codec name and the BOM it started with."""

    codec: str
    bom: bytes = b""

    @property
    def unicode(self) -> bool:
        """Whether every character can be written back (Unicode and GB18030 can; Latin-1 cannot)."""
        return self.codec.startswith("utf") or self.codec == "gb18030"

    @property
    def box(self) -> str:
        return BOX if self.unicode else ASCII_BOX

    def encode(self, text: str) -> bytes:
        """The text in this encoding with the original BOM; raises UnicodeEncodeError when impossible."""
        return self.bom + text.encode(self.codec)

    def decode(self, data: bytes) -> str:
        """Strict inverse of :meth:`encode`; a missing or different BOM is an error."""
        if not data.startswith(self.bom):
            raise UnicodeDecodeError(self.codec, data[:4], 0, len(self.bom), "byte-order mark differs")
        return data[len(self.bom) :].decode(self.codec)


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: TextEncoding


def _gb2312_area(char: str) -> bool:
    if unicodedata.category(char) == "Co":
        # GB18030's user-defined rows (AAA1-AFFE, F8A1-FEFE) decode to private-use
        # characters: Windows-1252 text such as "Grüße" lands there, Chinese never does.
        return False
    raw = char.encode("gb18030")
    return len(raw) == 2 and raw[0] >= 0xA1 and raw[1] >= 0xA1


def _reads_as_chinese(text: str) -> bool:
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide or not has_cjk(text):
        return False
    return sum(1 for ch in wide if _gb2312_area(ch)) >= _GB_SHARE * len(wide)


def _refuse_binary(text: str) -> None:
    if "\x00" in text:
        raise UnsupportedFile("text contains NUL bytes; it looks like a binary file")
    controls = len(_BINARY_CONTROLS.findall(text))
    # A stray control character in a long file is tolerated; more than 1 in 100 is binary.
    if controls and controls * 100 > len(text):
        raise UnsupportedFile("text contains many control characters; it looks like a binary file")


def detect_encoding(data: bytes) -> DecodedText:
    """Decode ``data`` by the module's rule; raises UnsupportedFile for binary content."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise UnsupportedFile(
                    f"text starts with a {codec.upper()} byte-order mark but is not {codec.upper()} "
                    f"(byte {exc.start + len(bom)})"
                ) from None
            _refuse_binary(text)
            return DecodedText(text, TextEncoding(codec, bom))
    if b"\x00" in data:
        raise UnsupportedFile("text contains NUL bytes; it looks like a binary file")
    candidates: list[tuple[str, bool]] = [("utf-8", False), ("gb18030", True), ("cp1252", False)]
    for codec, needs_chinese in candidates:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if needs_chinese and not _reads_as_chinese(text):
            continue
        _refuse_binary(text)
        return DecodedText(text, TextEncoding(codec))
    text = data.decode("latin-1")  # every byte is defined: this cannot fail
    _refuse_binary(text)
    return DecodedText(text, TextEncoding("latin-1"))


_SVG = re.compile(r"<svg[\s>/]", re.IGNORECASE)
#: a base64 payload long enough to hold a picture or a document (hashes and keys are shorter)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{400,}")
#: a MIME or PEM body: several full lines of base64
_BASE64_LINES = re.compile(r"(?:^[A-Za-z0-9+/]{60,}={0,2}\r?\n){4,}", re.MULTILINE)
#: string concatenation in a spreadsheet formula: ``"Kes"&"trel"``, ``CONCAT("Kes","trel")``
_FORMULA_JOIN = re.compile(r'"\s*[&,;]\s*"')
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def refuse_unreadable(text: str) -> None:
    """Refuse text whose content a viewer shows as something the detector cannot read."""
    if _SVG.search(text):
        raise UnsupportedFile("an SVG image is not supported: what it draws cannot be checked as text")
    runs = (m.group(0) for pattern in (_BASE64_RUN, _BASE64_LINES) for m in pattern.finditer(text))
    if any(_mixed(run) for run in runs):
        raise UnsupportedFile(
            "the text holds base64-encoded content (an embedded file or picture) that cannot be checked"
        )


def _mixed(run: str) -> bool:
    """Base64 of any real payload has upper and lower case letters and digits (a DNA
    sequence, a hex digest or a line of dashes has not)."""
    return any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)


def alternate_readings(text: str, encoding: TextEncoding) -> list[str]:
    """The text as other readers show it, where that differs; see the module docstring."""
    readings: list[str] = []
    if "&" in text and _ENTITY.search(text):
        readings.append(html.unescape(text))
    if "%" in text and _PERCENT.search(text):
        readings.append(urllib.parse.unquote(text, errors="replace"))
    if '"' in text and _FORMULA_JOIN.search(text):
        readings.append(_FORMULA_JOIN.sub("", text))
    if not encoding.unicode and not text.isascii():
        # A file mixing UTF-8 and Windows-1252 lines is decoded as Windows-1252;
        # an editor that guesses UTF-8 shows the UTF-8 lines as written.
        raw = text.encode(encoding.codec, errors="replace")
        readings.append(raw.decode("utf-8", errors="replace"))
    return [r for r in dict.fromkeys(readings) if r != text]


def decode_text(data: bytes) -> str:
    """Decode an uploaded text file by :func:`detect_encoding`'s rule (BOM removed)."""
    return detect_encoding(data).text


def redact_text(text: str, redactions: Sequence[Redaction], box: str = BOX) -> str:
    out: list[str] = []
    cursor = 0
    for red in merge_redactions(redactions):
        start, end = max(red.start, cursor), min(red.end, len(text))
        if start >= end:
            continue
        out.append(text[cursor:start])
        out.append(red.replacement if red.replacement else box)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def find_leaks(text: str, sensitive_values: Sequence[str]) -> list[str]:
    """Return the sensitive values (as given) whose folded form occurs in ``text``.

    Letter-spaced runs are also read joined up, so "K e s t r e l" cannot
    hide "Kestrel" from the check; a value is compared with and without its
    inner spaces there, since spaced words may be separated by one space.

    Large inputs with many values (a 1 MiB text file has tens of thousands)
    are searched through an index of the text's 4-grams instead of one scan
    of the whole text per value, which was quadratic; the answer is the same.
    """
    haystack = fold(text)
    joined = fold(join_spaced_runs(text))
    large = len(sensitive_values) * len(haystack) > _INDEX_ABOVE
    in_haystack: str | _Substrings = haystack
    in_joined: str | _Substrings = joined
    if large:
        grams = {g for v in sensitive_values for g in _grams(fold(v))}
        in_haystack = _Substrings(haystack, grams)
        # Usually no letter-spaced runs: the same text, indexed once.
        in_joined = in_haystack if joined == haystack else _Substrings(joined, grams)
    compact: str | None = None
    leaks = []
    for value in sensitive_values:
        needle = fold(value)
        if not needle:
            continue
        if needle in in_haystack or needle in in_joined or needle.replace(" ", "") in in_joined:
            leaks.append(value)
        elif has_cjk(needle):
            # CJK puts no spaces between words: spaces or line breaks between its characters
            # ("宁波 瀚海\n磁电") do not separate a name.
            if compact is None:
                compact = haystack.replace(" ", "")
            if needle.replace(" ", "") in compact:
                leaks.append(value)
    return leaks


#: values x characters beyond which find_leaks indexes the text (below, plain scans are faster)
_INDEX_ABOVE = 20_000_000
_GRAM = 4


def _grams(value: str) -> set[str]:
    return {value[k : k + _GRAM] for k in range(len(value) - _GRAM + 1)} | {
        value.replace(" ", "")[k : k + _GRAM] for k in range(len(value.replace(" ", "")) - _GRAM + 1)
    }


class _Substrings:
    """``needle in text`` answered from the positions of the needle's rarest 4-gram.

    Only the 4-grams in ``grams`` (those of the needles to come) are indexed;
    a needle with a 4-gram outside it is not in the text or was not announced,
    and is then searched by a plain scan.
    """

    def __init__(self, text: str, grams: set[str]) -> None:
        self.text, self.grams = text, grams
        positions: dict[str, list[int]] = {}
        for i in range(len(text) - _GRAM + 1):
            gram = text[i : i + _GRAM]
            if gram in grams:
                positions.setdefault(gram, []).append(i)
        self.positions = positions

    def __contains__(self, needle: object) -> bool:
        if not isinstance(needle, str):
            return False
        if len(needle) < _GRAM:
            return needle in self.text
        best: list[int] | None = None
        offset = 0
        for k in range(len(needle) - _GRAM + 1):
            gram = needle[k : k + _GRAM]
            if gram not in self.grams:
                return needle in self.text
            found = self.positions.get(gram)
            if found is None:
                return False
            if best is None or len(found) < len(best):
                best, offset = found, k
        assert best is not None  # noqa: S101  (len(needle) >= _GRAM)
        return any(self.text.startswith(needle, p - offset) for p in best if p >= offset)
