"""Fail-closed verification of a written PDF, before anything leaves.

Checks, each independent of the code that produced the output:

1. ``page_text``: pdfium (a different PDF implementation from qpdf, which
   wrote the file) extracts every page's text; the folded text is searched for
   every folded sensitive value, both as written and with whitespace removed
   (a value split by kerning gaps or line breaks still counts). Letter-spaced
   runs ("K e s t r e l", as extractors read a Tc-spaced or glyph-by-glyph
   name) are also read joined up, so a short value cannot hide behind
   letter-spacing either (see ``Needles.search``). Values in a CJK script
   are searched as substrings (those scripts have no word boundaries) and
   with whitespace removed, whatever their length. The text is also searched
   reversed (glyphs drawn right to left).
2. ``object_string`` / ``stream``: every string and name in every object, and
   every stream's decoded data (bounded), are folded and searched, in Latin-1
   and UTF-16 readings; names also with their ``#xx`` escapes decoded, strings
   also percent-decoded (URIs), and in stream data every hex string, escaped
   name and octal escape decoded as well (``syntax_readings``).
3. ``raw_stream``: the file's bytes are scanned without any PDF parser:
   every ``stream``…``endstream`` body is decoded through the filter chain its
   dictionary names (Flate, LZW, RunLength, ASCIIHex, ASCII85, in any order;
   read with a regex, not a parser) or, when none is named, through guessed
   chains, each bounded by ``max_decoded_stream_bytes``; the results are
   searched, together with the uncompressed bytes in between and every
   stream body as stored (image codecs this check does not decode carry
   text of their own: JPEG comments, EXIF in UTF-16LE too, XMP).
4. ``text_under_box`` / ``hidden_text``: on pages that had opaque paint,
   images or hidden text, the engine's own content model re-reads the output
   and no glyph may remain under an opaque paint (ours or the applicant's),
   outside the page, or otherwise hidden (clipped, same colour as its
   backdrop, tiny, transparent); the page's text is searched for every
   value. pdfium's character boxes are also checked against every redaction
   box drawn (labels excepted).
5. ``manual_box`` / ``text_under_manual_box`` / ``annotation_under_manual_box``:
   every page with the applicant's manual boxes is rendered again by pdfium
   as a viewer shows it (/Rotate and crop box applied, annotations drawn) and
   each box's region, recomputed from its fractions on that render, must be
   solid black; no character and no annotation pdfium finds on the page may
   reach into the region (mapped by pdfium's own page-to-device transform).

A leak names the page (when known), the kind and the index of the value in
``sensitive_values`` — never the value itself.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from exchange.domain.detection.normalise import SPACED_RUN, fold, join_spaced_runs
from exchange.domain.detection.review import ManualBox
from exchange.domain.detection.terms import has_cjk
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.image.pixels import unpainted_boxes
from exchange.domain.redaction.pdf.limits import PdfLimits, check_stream_size, run_length_decode
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
    # In ASCII the only soft-break character is "-"; str.split() splits on exactly the
    # characters \s matches (str.isspace), so the join equals _WS.sub(" ", ...).strip().
    if "-" in text:
        text = _SOFT_BREAK.sub("", text).lower().replace("`", "'")
        text = _SOFT_BREAK.sub("", text)
    else:
        text = text.lower().replace("`", "'")
    return " ".join(text.split())


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
        self.items: list[tuple[int, re.Pattern[str], str, str]] = []
        self.raw: list[tuple[int, bytes, bytes, tuple[bytes, ...]]] = []
        #: values searched in the letter-spaced view: those without a compact form (see search)
        self.spaced: list[tuple[int, str, re.Pattern[str]]] = []
        seen: set[str] = set()
        for idx, value in enumerate(values):
            folded = fold(value)
            if not folded or folded in seen:
                continue
            seen.add(folded)
            compact = _WS.sub("", folded)
            if has_cjk(folded):
                # CJK has no word boundaries and puts no spaces between words: a value is found
                # as a substring, whatever whitespace an extractor put between its characters.
                pattern = re.compile(re.escape(folded))
                self.items.append((idx, pattern, compact, folded))
            else:
                pattern = re.compile(r"(?<!\w)" + re.escape(folded) + r"(?!\w)")
                self.items.append((idx, pattern, compact if len(compact) >= _COMPACT_MIN else "", folded))
            if len(compact) < _COMPACT_MIN and not has_cjk(folded):
                forms = {re.escape(folded), re.escape(compact)}
                joined_pattern = re.compile(r"(?<!\w)(?:" + "|".join(sorted(forms)) + r")(?!\w)")
                self.spaced.append((idx, compact, joined_pattern))
            # Byte forms for parser-free scanning: folded (lower-case) UTF-8, and the value as
            # written in UTF-8, Latin-1 and UTF-16BE (PDF text strings) where encodable.
            # UTF-16LE too: EXIF's XP* tags and Windows-made metadata inside image streams.
            encoded = {value.encode("utf-8"), value.encode("utf-16-be"), value.encode("utf-16-le")}
            with contextlib.suppress(UnicodeEncodeError):
                encoded.add(value.encode("latin-1"))
            needle_bytes = folded.encode("utf-8")
            self.raw.append((idx, needle_bytes, needle_bytes.replace(b" ", b""), tuple(encoded)))

    def __bool__(self) -> bool:
        return bool(self.items)

    def search(self, text: str) -> list[int]:
        """Indices of the values found in ``text``, folded.

        Three views: the folded text (word boundaries), the folded text without
        whitespace (values of ``_COMPACT_MIN`` characters or more, as a
        substring), and the text with letter-spaced runs joined up, folded
        (each value as written and without its inner spaces, at word
        boundaries). Joining only removes whitespace, so for a value with a
        compact form the compact view already covers the joined one; the
        joined view is searched only for the short values not found yet, only
        when (ASCII text) their compact form occurs in the compact text and
        only when the text has a letter-spaced run at all, which keeps ordinary
        pages at the cost of the first two views.
        """
        if not text:
            return []
        folded = fast_fold(text)
        compact: str | None = None
        hits = []
        for idx, pattern, comp, value in self.items:
            # A plain substring test (C speed) must pass before the word-boundary regex can.
            if value in folded and pattern.search(folded):
                hits.append(idx)
                continue
            if comp:
                if compact is None:
                    # fast_fold leaves ASCII text with single spaces only.
                    compact = folded.replace(" ", "") if folded.isascii() else _WS.sub("", folded)
                if comp in compact:
                    hits.append(idx)
        if self.spaced:
            found = set(hits)
            todo = [(idx, comp, rx) for idx, comp, rx in self.spaced if idx not in found]
            if todo and text.isascii():
                # For ASCII text, folding commutes with removing spaces, so a value can only
                # occur in the joined view if its compact form occurs in the compact text: a
                # substring test (C speed) spares the run regex on almost every page.
                if compact is None:
                    compact = folded.replace(" ", "")
                todo = [item for item in todo if item[1] in compact]
            if todo and SPACED_RUN.search(text):
                joined = fast_fold(join_spaced_runs(text))
                hits += [idx for idx, _, rx in todo if rx.search(joined)]
                hits.sort()
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


def _percent_readings(text: str) -> list[str]:
    decoded = unquote(text, encoding="utf-8", errors="replace")
    return [decoded, decoded.replace("+", " ")]


_HEX_STRING = re.compile(rb"<([0-9A-Fa-f\s]{2,})>")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{1,3})")


def syntax_readings(data: bytes) -> str:
    """Strings and names in PDF syntax (content streams, object bytes) as a reader decodes them.

    A content stream's operands that no page text shows (a marked-content
    property list, an operator inside ``BX``/``EX``, a tag) are searched only
    as bytes; written as a hex string (``<4b65...>``), with octal escapes
    (``\\113estrel``) or as a name with ``#xx`` escapes they would pass a
    byte search. Their decoded forms, one per line, Latin-1 and (for strings
    holding zero bytes) UTF-16BE, are returned for :meth:`Needles.search`.
    """
    parts: list[str] = []
    for match in _HEX_STRING.finditer(data):
        digits = re.sub(rb"\s", b"", match.group(1))
        raw = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))
        parts.append(raw.decode("latin-1"))
        if b"\x00" in raw:
            parts.append(raw[len(raw) % 2 :].decode("utf-16-be", errors="ignore"))
    if b"#" in data:
        parts.append(_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data).decode("latin-1"))
    if b"\\" in data:
        parts.append(_OCTAL_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), data).decode("latin-1"))
    return "\n".join(parts)


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
        if b"%" in raw or b"+" in raw:
            # A URI is shown decoded: "Kestrel%20Dynamics" is the name.
            out.extend(_percent_readings(raw.decode("latin-1")))
    elif isinstance(obj, pikepdf.Name):
        # Written with #xx escapes ("/Kestrel#20Dynamics"), read decoded.
        written = obj.unparse()
        out.append(written.decode("latin-1"))
        if b"#" in written:
            out.append(_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), written).decode("latin-1"))
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
                decoded = bytes(decoded)
                found = set(needles.search_bytes(decoded))
                if len(decoded) <= 4 * 2**20:
                    found.update(needles.search(syntax_readings(decoded)))
                for idx in sorted(found):
                    leaks.append(Leak(where, "stream", idx))
    return leaks


_FILTER_ENTRY = re.compile(rb"/Filter\s*(\[[^\]]{0,400}\]|/[^\s/\[\]<>()]+)")
_NAME = re.compile(rb"/([^\s/\[\]<>()]+)")
_HEX_BODY = re.compile(rb"[0-9A-Fa-f\s]*>?\s*")
_A85_BODY = re.compile(rb"(?:<~)?[!-uz\s]*(?:~>)?\s*")
_TEXT_FILTERS = {
    "FlateDecode": "flate",
    "Fl": "flate",
    "LZWDecode": "lzw",
    "LZW": "lzw",
    "RunLengthDecode": "rl",
    "RL": "rl",
    "ASCIIHexDecode": "ahx",
    "AHx": "ahx",
    "ASCII85Decode": "a85",
    "A85": "a85",
}
#: Filter chains tried, in order, when a stream's dictionary does not name its filters.
_GUESSES = (
    ("flate",),
    ("a85", "flate"),
    ("ahx", "flate"),
    ("lzw",),
    ("a85",),
    ("ahx",),
    ("ahx", "lzw"),
    ("a85", "lzw"),
)


def _lzw(data: bytes, limit: int, early: int = 1) -> bytes:
    """PDF LZW (MSB-first, 9-12 bit codes, EarlyChange 1), output bounded by ``limit``."""
    out = bytearray()
    table: list[bytes] = [bytes([i]) for i in range(256)] + [b"", b""]
    width = 9
    buf = 0
    bits = 0
    prev: bytes | None = None
    for byte in data:
        buf = (buf << 8) | byte
        bits += 8
        while bits >= width:
            bits -= width
            code = (buf >> bits) & ((1 << width) - 1)
            buf &= (1 << bits) - 1
            if code == 256:
                table = table[:258]
                width = 9
                prev = None
                continue
            if code == 257:
                return bytes(out)
            if code < len(table):
                entry = table[code]
                if prev is not None:
                    table.append(prev + entry[:1])
            elif prev is not None and code == len(table):
                entry = prev + prev[:1]
                table.append(entry)
            else:
                return bytes(out)  # damaged: keep what was decoded
            out += entry
            if len(out) > limit:
                return bytes(out[:limit])
            prev = entry
            if len(table) + early >= (1 << width) and width < 12:
                width += 1
    return bytes(out)


def _decode_one(kind: str, data: bytes, limit: int) -> bytes | None:
    """One text filter, bounded; None when ``data`` is not valid input for it."""
    if kind == "flate":
        try:
            return zlib.decompressobj().decompress(data, limit)
        except zlib.error:
            return None
    if kind == "lzw":
        return _lzw(data, limit) if data[:1] >= b"\x80" else None
    if kind == "ahx":
        if not _HEX_BODY.fullmatch(data):
            return None
        digits = re.sub(rb"[^0-9A-Fa-f]", b"", data)
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))[:limit]
    if kind == "a85":
        if not _A85_BODY.fullmatch(data):
            return None
        text = data.strip().removeprefix(b"<~").removesuffix(b"~>")
        try:
            return base64.a85decode(text, adobe=False, ignorechars=b" \t\r\n\x0c")[:limit]
        except ValueError:
            return None
    if kind == "rl":
        try:
            return run_length_decode(data, limit)
        except UnsupportedFile:
            return None
    return None


def _decode_chain(body: bytes, chain: Sequence[str], limit: int) -> bytes | None:
    data: bytes | None = body
    for kind in chain:
        data = _decode_one(kind, data, limit) if data is not None else None
        if not data:
            return None
    return data


def _raw_decode(body: bytes, declared: list[str] | None, limit: int) -> list[bytes]:
    """Decodings of a stream body, without a PDF parser.

    ``declared`` is the filter chain read from the stream's dictionary by a regex
    (None when it names none, or names them indirectly): LZW, RunLength, ASCIIHex,
    ASCII85 and Flate, in any chain, are decoded, each bounded by ``limit``; a
    chain that goes on with an image codec is decoded up to that codec. When
    nothing is declared, the usual chains are guessed from what the bytes look like.
    Image codecs are not decoded (their pixels are checked elsewhere).
    """
    if declared is not None:
        kinds = [_TEXT_FILTERS.get(name) for name in declared]
        # Text filters wrapping an image codec (reportlab: ASCII85 around DCT) are decoded,
        # so that the codec's own bytes (JPEG comments, EXIF) are searched as stored.
        known = len(kinds) if None not in kinds else kinds.index(None)
        if not known:
            return []
        out = _decode_chain(body, [k for k in kinds[:known] if k], limit)
        return [out] if out else []
    found = []
    for chain in _GUESSES:
        out = _decode_chain(body, chain, limit)
        if out:
            found.append(out)
            if chain == ("flate",):
                break
    return found


def _declared_filters(data: bytes, start: int) -> list[str] | None:
    """Filter names in the dictionary just before the ``stream`` keyword at ``start``."""
    head = data[max(0, start - 4096) : start]
    cut = head.rfind(b"obj")
    if cut >= 0:
        head = head[cut:]
    match = _FILTER_ENTRY.search(head)
    if match is None:
        return None
    names = [n.decode("latin-1") for n in _NAME.findall(match.group(1))]
    return names or None


def scan_raw(data: bytes, needles: Needles, limits: PdfLimits) -> list[Leak]:
    leaks: list[Leak] = []
    pieces: list[bytes] = []
    last = 0
    for match in _STREAM_RE.finditer(data):
        pieces.append(data[last : match.start()])
        last = match.end()
        declared = _declared_filters(data, match.start())
        body = match.group(1)
        # The body as stored too: image codecs that are not decoded here (DCT, JPX, JBIG2)
        # carry text of their own (JPEG comments, EXIF, XMP, JPEG 2000 boxes).
        for decoded in [body, *_raw_decode(body, declared, limits.max_decoded_stream_bytes)]:
            for idx in needles.search_bytes(decoded, thorough=False):
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
                # Read backwards too: glyphs drawn right to left (a TJ walking back with
                # kerns, as some RTL producers emit Latin) come out reversed in content
                # order, while readers that sort by position, and the eye, read the name.
                for idx in sorted(set(needles.search(text)) | set(needles.search(text[::-1]))):
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


#: resolution of the render that checks manual boxes; deliberately not the painter's
MANUAL_CHECK_DPI = 100


def scan_manual_boxes(data: bytes, boxes: Sequence[ManualBox], max_pixels: int) -> list[Leak]:
    """Check 5 of the module docstring: every manual box is solid, with nothing under it."""
    by_page: dict[int, list[ManualBox]] = {}
    for box in boxes:
        by_page.setdefault(box.page, []).append(box)
    leaks: list[Leak] = []
    doc = pdfium.PdfDocument(data)
    try:
        for number, mine in sorted(by_page.items()):
            if number > len(doc):
                leaks.append(Leak(number, "manual_box", -1))
                continue
            page = doc[number - 1]
            try:
                leaks += _manual_page(page, number, mine, max_pixels)
            finally:
                page.close()
    finally:
        doc.close()
    return leaks


def _manual_page(page: Any, number: int, boxes: list[ManualBox], max_pixels: int) -> list[Leak]:
    width, height = page.get_size()
    scale = MANUAL_CHECK_DPI / 72.0
    if width * height * scale * scale > max_pixels:
        scale = (max_pixels / max(width * height, 1.0)) ** 0.5
    image = page.render(scale=scale).to_pil()
    size = image.size
    leaks = [Leak(number, "manual_box", -1) for _ in unpainted_boxes(image, boxes)]
    regions = [box.pixels(*size) for box in boxes]

    def reaches(left: float, bottom: float, right: float, top: float) -> bool:
        corners = [_to_device(page, size, x, y) for x, y in ((left, bottom), (right, top))]
        xs, ys = sorted(c[0] for c in corners), sorted(c[1] for c in corners)
        return any(xs[0] < r[2] and xs[1] > r[0] and ys[0] < r[3] and ys[1] > r[1] for r in regions)

    textpage = page.get_textpage()
    try:
        for index in range(textpage.count_chars()):
            if reaches(*textpage.get_charbox(index)):
                leaks.append(Leak(number, "text_under_manual_box", -1))
                break
    finally:
        textpage.close()
    rect = pdfium_c.FS_RECTF()
    for index in range(pdfium_c.FPDFPage_GetAnnotCount(page.raw)):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        try:
            # An annotation whose rectangle cannot be read counts as reaching the box.
            if not pdfium_c.FPDFAnnot_GetRect(annot, rect) or reaches(
                rect.left, rect.bottom, rect.right, rect.top
            ):
                leaks.append(Leak(number, "annotation_under_manual_box", -1))
                break
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return leaks


def _to_device(page: Any, size: tuple[int, int], x: float, y: float) -> tuple[int, int]:
    """Page space -> pixels of a render of ``size`` as displayed, by pdfium's own transform."""
    dx, dy = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, size[0], size[1], 0, x, y, dx, dy)
    return dx.value, dy.value
