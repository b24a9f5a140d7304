"""Fail-closed verification of a written PDF, before anything leaves.

Checks, each independent of the code that produced the output:

1. ``page_text``: pdfium (a different PDF implementation from qpdf, which
   wrote the file) extracts every page's text; the folded text is searched for
   every folded sensitive value, both as written and with whitespace removed
   (a value split by kerning gaps or line breaks still counts).
2. ``object_string`` / ``stream``: every string and name in every object, and
   every stream's decoded data (bounded), are folded and searched, in Latin-1
   and UTF-16 readings.
3. ``raw_stream``: the file's bytes are scanned without any PDF parser:
   every ``stream``…``endstream`` body is inflated with zlib where possible
   and searched, together with the uncompressed bytes in between.
4. ``text_under_box``: on pages the engine changed, the engine's own content
   model re-reads the output and no glyph may remain under an opaque box
   (ours or the applicant's) or outside the page; pdfium's character boxes
   are also checked against every redaction box drawn (labels excepted).

A leak names the page (when known), the kind and the index of the value in
``sensitive_values`` — never the value itself.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pikepdf
import pypdfium2 as pdfium

from exchange.domain.detection.normalise import fold
from exchange.domain.redaction.pdf.limits import PdfLimits, check_stream_size
from exchange.domain.redaction.pdf.textmodel import Box

_STREAM_RE = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)
_WS = re.compile(r"\s+")
# Exact copies of detection's folding regexes, for the ASCII fast path below.
_SOFT_BREAK = re.compile(r"[-\u00ad\u2010\u2011]\s*\n\s*")


def fast_fold(text: str) -> str:
    """``fold(text)``, computed without per-character Python work for ASCII text.

    For ASCII input, NFKC and diacritic stripping are identities and
    casefold is lower(); the only table entry that applies is "`" → "'".
    ``tests/unit/redaction`` checks this equals ``fold`` on adversarial ASCII.
    """
    if not text.isascii():
        return fold(text)
    text = _SOFT_BREAK.sub("", text).lower().replace("`", "'")
    return _WS.sub(" ", _SOFT_BREAK.sub("", text)).strip()


#: Values shorter than this are only searched at word boundaries (too many accidental substrings).
_COMPACT_MIN = 5


@dataclass(frozen=True, slots=True)
class Leak:
    page: int | None
    kind: str
    value_index: int

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.page, "kind": self.kind, "value": self.value_index}


class Needles:
    """Folded sensitive values and the ways they are searched for."""

    def __init__(self, values: Sequence[str]) -> None:
        self.items: list[tuple[int, re.Pattern[str], str]] = []
        self.raw: list[tuple[int, bytes, bytes, tuple[bytes, ...]]] = []
        seen: set[str] = set()
        for idx, value in enumerate(values):
            folded = fold(value)
            if not folded or folded in seen:
                continue
            seen.add(folded)
            pattern = re.compile(r"(?<!\w)" + re.escape(folded) + r"(?!\w)")
            compact = _WS.sub("", folded)
            self.items.append((idx, pattern, compact if len(compact) >= _COMPACT_MIN else ""))
            # Byte forms for parser-free scanning: folded (lower-case) UTF-8, and the value as
            # written in UTF-8, Latin-1 and UTF-16BE (PDF text strings) where encodable.
            encoded = {value.encode("utf-8"), value.encode("utf-16-be")}
            with contextlib.suppress(UnicodeEncodeError):
                encoded.add(value.encode("latin-1"))
            needle_bytes = folded.encode("utf-8")
            self.raw.append((idx, needle_bytes, needle_bytes.replace(b" ", b""), tuple(encoded)))

    def __bool__(self) -> bool:
        return bool(self.items)

    def search(self, text: str) -> list[int]:
        if not text:
            return []
        folded = fast_fold(text)
        compact: str | None = None
        hits = []
        for idx, pattern, comp in self.items:
            if pattern.search(folded):
                hits.append(idx)
                continue
            if comp:
                if compact is None:
                    compact = _WS.sub("", folded)
                if comp in compact:
                    hits.append(idx)
        return hits

    def search_bytes(self, data: bytes, thorough: bool = True) -> list[int]:
        """Byte-level search; ``thorough`` adds folded Latin-1 and UTF-16 readings."""
        hits = set()
        low = data.lower()
        compact = low.translate(None, b" \t\r\n\x0c\x00")
        for idx, needle, needle_compact, encoded in self.raw:
            if needle in low or needle_compact in compact or any(e in data for e in encoded):
                hits.add(idx)
        if thorough and len(data) <= 4 * 2**20:
            hits.update(self.search(data.decode("latin-1")))
            if b"\x00" in data:
                for start in (0, 1):
                    chunk = data[start:]
                    hits.update(
                        self.search(chunk[: len(chunk) // 2 * 2].decode("utf-16-be", errors="ignore"))
                    )
        return sorted(hits)


def _obj_strings(obj: Any, out: list[str], depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(obj, pikepdf.String):
        raw = bytes(obj)
        with contextlib.suppress(UnicodeDecodeError):
            out.append(str(obj))
        out.append(raw.decode("latin-1"))
        if raw.startswith((b"\xfe\xff", b"\xff\xfe")) or b"\x00" in raw:
            out.append(raw.decode("utf-16-be", errors="ignore"))
    elif isinstance(obj, pikepdf.Name):
        out.append(obj.unparse().decode("latin-1"))
    elif isinstance(obj, pikepdf.Array):
        for item in obj:
            if not getattr(item, "is_indirect", True):
                _obj_strings(item, out, depth + 1)
    elif isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        for key, item in obj.items():
            out.append(key)
            if not getattr(item, "is_indirect", True):
                _obj_strings(item, out, depth + 1)


def scan_objects(data: bytes, needles: Needles, limits: PdfLimits) -> list[Leak]:
    leaks: list[Leak] = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        page_of: dict[tuple[int, int], int] = {}
        for number, page in enumerate(pdf.pages, start=1):
            contents = page.obj.get("/Contents")
            for c in contents if isinstance(contents, pikepdf.Array) else [contents]:
                if isinstance(c, pikepdf.Stream):
                    page_of[c.objgen] = number
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Object):
                continue
            strings: list[str] = []
            _obj_strings(obj, strings)
            where = page_of.get(obj.objgen)
            for idx in needles.search("\n".join(strings)):
                leaks.append(Leak(where, "object_string", idx))
            if isinstance(obj, pikepdf.Stream):
                if obj.get("/Subtype") == "/Image":
                    continue
                check_stream_size(obj, limits)
                try:
                    decoded = obj.read_bytes()
                except pikepdf.PdfError:
                    decoded = obj.read_raw_bytes()
                for idx in needles.search_bytes(bytes(decoded)):
                    leaks.append(Leak(where, "stream", idx))
    return leaks


def _raw_decode(body: bytes, limit: int) -> bytes:
    """Flate, or ASCII85 then Flate (as reportlab writes), without a PDF parser; b"" if neither."""
    candidates = [body]
    stripped = body.strip()
    if stripped.endswith(b"~>"):
        encoded = stripped[:-2].removeprefix(b"<~")
        with contextlib.suppress(ValueError):
            candidates.append(base64.a85decode(encoded, adobe=False, ignorechars=b" \t\r\n"))
    for data in candidates:
        try:
            return zlib.decompressobj().decompress(data, limit)
        except zlib.error:
            continue
    return b""


def scan_raw(data: bytes, needles: Needles, limits: PdfLimits) -> list[Leak]:
    leaks: list[Leak] = []
    pieces: list[bytes] = []
    last = 0
    for match in _STREAM_RE.finditer(data):
        pieces.append(data[last : match.start()])
        last = match.end()
        inflated = _raw_decode(match.group(1), limits.max_decoded_stream_bytes)
        if inflated:
            for idx in needles.search_bytes(inflated, thorough=False):
                leaks.append(Leak(None, "raw_stream", idx))
    pieces.append(data[last:])
    for idx in needles.search_bytes(b"\n".join(pieces), thorough=False):
        leaks.append(Leak(None, "raw_bytes", idx))
    return leaks


def scan_pdfium(
    data: bytes,
    needles: Needles,
    boxes_by_page: dict[int, list[tuple[Box, str | None]]],
) -> list[Leak]:
    """Page text and character boxes as pdfium reads them."""
    leaks: list[Leak] = []
    doc = pdfium.PdfDocument(data)
    try:
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range()
                for idx in needles.search(text):
                    leaks.append(Leak(index + 1, "page_text", idx))
                boxes = boxes_by_page.get(index + 1)
                if boxes and _chars_under_boxes(textpage, boxes):
                    leaks.append(Leak(index + 1, "text_under_box", -1))
            finally:
                textpage.close()
                page.close()
    finally:
        doc.close()
    return leaks


def _chars_under_boxes(textpage: Any, boxes: list[tuple[Box, str | None]]) -> bool:
    """True when text other than a box's own label lies inside a redaction box.

    pdfium returns the text whose character boxes fall in the queried
    rectangle; the rectangle is the box shrunk to its central band, so that a
    neighbouring glyph touching the box edge does not count.
    """
    for (x0, y0, x1, y1), label in boxes:
        w, h = x1 - x0, y1 - y0
        if w < 3 or h < 3:
            continue
        inner = (x0 + min(1.5, w / 4), y0 + h * 0.3, x1 - min(1.5, w / 4), y1 - h * 0.3)
        text = textpage.get_text_bounded(left=inner[0], bottom=inner[1], right=inner[2], top=inner[3])
        got = _WS.sub("", text or "")
        if not got:
            continue
        expected = _WS.sub("", label.encode("cp1252", errors="replace").decode("cp1252")) if label else ""
        if not expected or got not in expected:
            return True
    return False
