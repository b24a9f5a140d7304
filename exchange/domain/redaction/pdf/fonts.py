"""Fonts: from byte strings in content streams to glyph codes, text and widths.

Invariants:

* Every glyph code gets either a Unicode string (possibly empty, when a
  ToUnicode map says the glyph carries no text) or ``None``. ``None`` means
  *unmappable*: the engine cannot know what the glyph says, so it cannot
  decide whether it must be removed. Pages with unmappable glyphs fail closed.
* Widths are exact where the file states them (``/Widths``, ``/W``, the Core
  14 AFM metrics for the standard fonts). Removing a glyph replaces it by a
  kerning offset of exactly its advance, which is what keeps the text after it
  in place; when widths are only guessed (``widths_exact`` False), removing a
  glyph from that font fails closed rather than shifting text.

Supported: simple fonts (Type1, MMType1, TrueType) with standard, built-in or
``/Differences`` encodings and/or ToUnicode. A Type1 font without ``/Encoding``
uses the encoding built into its embedded program (read from the FontFile's
clear text or the CFF); a *symbolic* one whose program's encoding cannot be
read, and which has no ToUnicode, is a font ``problem`` (its pages fail
closed) rather than being guessed as StandardEncoding; Type3 with ``/Differences`` names
or ToUnicode; Type0 (composite) with Identity-H, embedded CMaps (codespace and
CID ranges parsed), or predefined UCS-2/UTF-16 CMaps with a ToUnicode map.
Vertical writing (``-V`` CMaps) is reported as unsupported.
"""

from __future__ import annotations

import io
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field

import pikepdf
from fontTools import agl
from fontTools.cffLib import CFFFontSet

from exchange.domain.redaction.pdf import _std14
from exchange.domain.redaction.pdf.cmaps import COLLECTIONS, PredefinedCMap, cid_to_unicode, predefined_cmap
from exchange.domain.redaction.pdf.limits import PdfLimits, decoded_stream

_CMAP_TOKEN = re.compile(rb"<[0-9A-Fa-f\s]*>|\[|\]|/[^\s/\[\]<>()]*|\((?:\\.|[^\\)])*\)|[^\s\[\]<>/()]+")
_SUBSET_TAG = re.compile(r"^[A-Z]{6}\+")
# Common aliases of the standard 14 fonts used by office producers without embedding.
_STD_ALIASES = {
    "Arial": "Helvetica",
    "ArialMT": "Helvetica",
    "Arial,Bold": "Helvetica-Bold",
    "Arial-BoldMT": "Helvetica-Bold",
    "Arial,Italic": "Helvetica-Oblique",
    "Arial-ItalicMT": "Helvetica-Oblique",
    "Arial,BoldItalic": "Helvetica-BoldOblique",
    "Arial-BoldItalicMT": "Helvetica-BoldOblique",
    "TimesNewRoman": "Times-Roman",
    "TimesNewRomanPSMT": "Times-Roman",
    "TimesNewRoman,Bold": "Times-Bold",
    "TimesNewRomanPS-BoldMT": "Times-Bold",
    "TimesNewRoman,Italic": "Times-Italic",
    "TimesNewRomanPS-ItalicMT": "Times-Italic",
    "CourierNew": "Courier",
    "CourierNewPSMT": "Courier",
    "Helvetica,Bold": "Helvetica-Bold",
    "Helvetica,Italic": "Helvetica-Oblique",
}
_STD_WIDTH_CACHE: dict[str, dict[str, int]] = {}
_MAX_CMAP_ENTRIES = 1_000_000


def std14_widths(name: str) -> tuple[dict[str, int], int, int] | None:
    base = _STD_ALIASES.get(name, name)
    entry = _std14.WIDTHS.get(base)
    if entry is None:
        return None
    ascent, descent, packed = entry
    widths = _STD_WIDTH_CACHE.get(base)
    if widths is None:
        widths = {}
        for item in packed.split():
            glyph, _, width = item.rpartition(":")
            widths[glyph] = int(width)
        _STD_WIDTH_CACHE[base] = widths
    return widths, ascent, descent


def glyph_name_text(name: str) -> str | None:
    """Unicode for a glyph name (AGL, uniXXXX, uXXXXX, ligatures), None if unknown."""
    if not name or name == ".notdef":
        return None
    text = agl.toUnicode(name)
    return text or None


def _hex(tok: bytes) -> bytes:
    digits = re.sub(rb"[^0-9A-Fa-f]", b"", tok[1:-1])
    if len(digits) % 2:
        digits += b"0"
    return bytes.fromhex(digits.decode("ascii"))


def _utf16(data: bytes) -> str:
    return data.decode("utf-16-be", errors="replace")


@dataclass(slots=True)
class CMap:
    """The parts of a CMap (ToUnicode or encoding) this engine uses."""

    #: (byte length, low, high) code space ranges.
    codespace: list[tuple[int, int, int]] = field(default_factory=list)
    unicode: dict[int, str] = field(default_factory=dict)
    #: (low, high, first destination bytes or list of strings) for large bfranges.
    uni_ranges: list[tuple[int, int, bytes | list[str]]] = field(default_factory=list)
    cid: dict[int, int] = field(default_factory=dict)
    cid_ranges: list[tuple[int, int, int]] = field(default_factory=list)

    def lookup_unicode(self, code: int) -> str | None:
        text = self.unicode.get(code)
        if text is not None:
            return text
        for lo, hi, dst in self.uni_ranges:
            if lo <= code <= hi:
                if isinstance(dst, list):
                    idx = code - lo
                    return dst[idx] if idx < len(dst) else None
                base = int.from_bytes(dst, "big") + (code - lo)
                return _utf16(base.to_bytes(len(dst), "big"))
        return None

    def lookup_cid(self, code: int) -> int | None:
        cid = self.cid.get(code)
        if cid is not None:
            return cid
        for lo, hi, first in self.cid_ranges:
            if lo <= code <= hi:
                return first + code - lo
        return None


def parse_cmap(data: bytes) -> CMap:
    cmap = CMap()
    tokens = _CMAP_TOKEN.findall(data)
    i = 0
    n = len(tokens)
    entries = 0
    while i < n:
        tok = tokens[i]
        i += 1
        if tok == b"begincodespacerange":
            while i + 1 < n and tokens[i] != b"endcodespacerange":
                lo, hi = tokens[i], tokens[i + 1]
                i += 2
                if lo.startswith(b"<") and hi.startswith(b"<"):
                    blo, bhi = _hex(lo), _hex(hi)
                    cmap.codespace.append((len(blo), int.from_bytes(blo, "big"), int.from_bytes(bhi, "big")))
        elif tok == b"beginbfchar":
            while i + 1 < n and tokens[i] != b"endbfchar":
                src, dst_tok = tokens[i], tokens[i + 1]
                i += 2
                if not src.startswith(b"<"):
                    continue
                code = int.from_bytes(_hex(src), "big")
                if dst_tok.startswith(b"<"):
                    cmap.unicode[code] = _utf16(_hex(dst_tok))
                elif dst_tok.startswith(b"/"):
                    cmap.unicode[code] = glyph_name_text(dst_tok[1:].decode("latin-1")) or ""
                entries += 1
        elif tok == b"beginbfrange":
            while i + 2 < n and tokens[i] != b"endbfrange":
                lo_t, hi_t = tokens[i], tokens[i + 1]
                i += 2
                if tokens[i] == b"[":
                    items: list[str] = []
                    i += 1
                    while i < n and tokens[i] != b"]":
                        if tokens[i].startswith(b"<"):
                            items.append(_utf16(_hex(tokens[i])))
                        i += 1
                    i += 1
                    dst: bytes | list[str] = items
                else:
                    dst = _hex(tokens[i]) if tokens[i].startswith(b"<") else b""
                    i += 1
                if not (lo_t.startswith(b"<") and hi_t.startswith(b"<")):
                    continue
                lo = int.from_bytes(_hex(lo_t), "big")
                hi = int.from_bytes(_hex(hi_t), "big")
                if hi < lo:
                    continue
                entries += hi - lo + 1
                if entries > _MAX_CMAP_ENTRIES:
                    break
                cmap.uni_ranges.append((lo, hi, dst))
        elif tok == b"begincidchar":
            while i + 1 < n and tokens[i] != b"endcidchar":
                src, dst_t = tokens[i], tokens[i + 1]
                i += 2
                if src.startswith(b"<") and dst_t.isdigit():
                    cmap.cid[int.from_bytes(_hex(src), "big")] = int(dst_t)
        elif tok == b"begincidrange":
            while i + 2 < n and tokens[i] != b"endcidrange":
                lo_t, hi_t, first_t = tokens[i], tokens[i + 1], tokens[i + 2]
                i += 3
                if lo_t.startswith(b"<") and hi_t.startswith(b"<") and first_t.isdigit():
                    cmap.cid_ranges.append(
                        (int.from_bytes(_hex(lo_t), "big"), int.from_bytes(_hex(hi_t), "big"), int(first_t))
                    )
    # Small bfranges are expanded into the dict: lookups stay O(1) on the hot path.
    small = [r for r in cmap.uni_ranges if r[1] - r[0] < 4096]
    if len(small) == len(cmap.uni_ranges) and entries <= 200_000:
        expanded: dict[int, str] = {}
        for lo, hi, dst in cmap.uni_ranges:
            for code in range(lo, hi + 1):
                if isinstance(dst, list):
                    idx = code - lo
                    if idx < len(dst):
                        expanded[code] = dst[idx]
                else:
                    base = int.from_bytes(dst, "big") + (code - lo)
                    expanded[code] = _utf16(base.to_bytes(max(len(dst), 1), "big")) if dst else ""
        expanded.update(cmap.unicode)
        cmap.unicode = expanded
        cmap.uni_ranges = []
    return cmap


@dataclass(slots=True)
class FontInfo:
    """Everything the text model needs about one font resource."""

    name: str
    #: "simple", "type3" or "type0".
    kind: str
    #: 1 or 2 for fixed-length codes; 0 when ``codespace`` decides.
    code_len: int = 1
    codespace: list[tuple[int, int, int]] = field(default_factory=list)
    #: simple fonts: 256 entries; composite fonts: dict lookups below.
    text_table: list[str | None] = field(default_factory=list)
    width_table: list[float] = field(default_factory=list)
    to_unicode: CMap | None = None
    encoding_cmap: CMap | None = None
    identity: bool = False
    #: a predefined (Adobe) CMap named by /Encoding: codes, CIDs and text come from it.
    predefined: PredefinedCMap | None = None
    #: CID → text of the font's character collection (non-Unicode predefined CMaps).
    cid_text: Mapping[int, str] | None = None
    cid_widths: dict[int, float] = field(default_factory=dict)
    cid_width_ranges: list[tuple[int, int, float]] = field(default_factory=list)
    default_width: float = 1000.0
    #: glyph-space extents per 1000 (text-space units × 1000 / font size).
    ascent: float = 900.0
    descent: float = -250.0
    widths_exact: bool = True
    vertical: bool = False
    #: vertical writing: /DW2 (v1y, w1y) and /W2 per CID (w1y, v1x, v1y); v1x None means w0 / 2.
    default_vmetrics: tuple[float, float] = (880.0, -1000.0)
    cid_vmetrics: dict[int, tuple[float, float | None, float]] = field(default_factory=dict)
    cid_vmetric_ranges: list[tuple[int, int, tuple[float, float | None, float]]] = field(default_factory=list)
    #: reason this font cannot be decoded at all (None when it can).
    problem: str | None = None

    # -- decoding -------------------------------------------------------
    def split(self, data: bytes) -> tuple[list[int], list[int] | None]:
        """Glyph codes of ``data`` and their byte offsets (None when 1 byte each)."""
        if self.predefined is not None:
            return self.predefined.split(data)
        if self.code_len == 1:
            return list(data), None
        if self.code_len == 2:
            n = len(data)
            codes = [(data[i] << 8) | data[i + 1] for i in range(0, n - 1, 2)]
            offsets = list(range(0, n + 1, 2))
            if n % 2:
                # A dangling byte is a glyph we cannot decode: keep it visible to the checks.
                codes.append(-1)
                offsets.append(n)
            return codes, offsets
        codes = []
        offsets = [0]
        i = 0
        n = len(data)
        while i < n:
            step = 1
            matched = False
            for length in (1, 2, 3, 4):
                if i + length > n:
                    break
                value = int.from_bytes(data[i : i + length], "big")
                if any(cl == length and lo <= value <= hi for cl, lo, hi in self.codespace):
                    codes.append(value)
                    step = length
                    matched = True
                    break
            if not matched:
                codes.append(-1)
            i += step
            offsets.append(i)
        return codes, offsets

    def texts(self, codes: list[int]) -> list[str | None]:
        if self.kind != "type0":
            table = self.text_table
            return [table[c] for c in codes]
        out: list[str | None] = []
        tu = self.to_unicode
        pre = self.predefined
        cid_text = self.cid_text
        for code in codes:
            text = tu.lookup_unicode(code) if tu is not None and code >= 0 else None
            if text is None and pre is not None:
                text = pre.code_text(code)
                if text is None and cid_text is not None:
                    cid = pre.cid(code)
                    # CID 0 is .notdef: whatever it shows, it is not known text.
                    text = cid_text.get(cid) if cid else None
            out.append(text)
        return out

    def widths(self, codes: list[int]) -> list[float]:
        """Advance widths in thousandths of text space per unit font size."""
        if self.kind != "type0":
            table = self.width_table
            return [table[c] for c in codes]
        out = []
        for code in codes:
            cid = self.cid_of(code)
            width = self.cid_widths.get(cid) if cid is not None else None
            if width is None and cid is not None and self.cid_width_ranges:
                for lo, hi, w in self.cid_width_ranges:
                    if lo <= cid <= hi:
                        width = w
                        break
            out.append(self.default_width if width is None else width)
        return out

    def vmetrics(self, codes: list[int], widths: list[float]) -> list[tuple[float, float, float]]:
        """Vertical metrics per glyph: (w1y, v1x, v1y) in thousandths, ``widths`` being the w0."""
        out = []
        dv1y, dw1y = self.default_vmetrics
        for code, w0 in zip(codes, widths, strict=True):
            cid = self.cid_of(code)
            metric = self.cid_vmetrics.get(cid) if cid is not None else None
            if metric is None and cid is not None and self.cid_vmetric_ranges:
                for lo, hi, m in self.cid_vmetric_ranges:
                    if lo <= cid <= hi:
                        metric = m
                        break
            if metric is None:
                out.append((dw1y, w0 / 2.0, dv1y))
            else:
                w1y, v1x, v1y = metric
                out.append((w1y, w0 / 2.0 if v1x is None else v1x, v1y))
        return out

    def cid_of(self, code: int) -> int | None:
        if code < 0:
            return None
        if self.predefined is not None:
            return self.predefined.cid(code)
        if self.identity:
            return code
        if self.encoding_cmap is not None:
            return self.encoding_cmap.lookup_cid(code)
        return None


def _num(obj: object, default: float) -> float:
    try:
        return float(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _descriptor_metrics(info: FontInfo, fd: pikepdf.Object | None, scale: float = 1.0) -> None:
    if not isinstance(fd, pikepdf.Dictionary):
        return
    asc = _num(fd.get("/Ascent"), 0.0) * scale
    desc = _num(fd.get("/Descent"), 0.0) * scale
    # Clamp: broken descriptors (ascent 0, descent +200) would make boxes miss the glyphs.
    if 500 <= asc <= 1300:
        info.ascent = asc
    if -500 <= desc <= 0:
        info.descent = min(desc, -150.0)


def _load_tounicode(font: pikepdf.Dictionary, limits: PdfLimits) -> CMap | None:
    tu = font.get("/ToUnicode")
    if isinstance(tu, pikepdf.Stream):
        try:
            return parse_cmap(decoded_stream(tu, limits))
        except (ValueError, pikepdf.PdfError):
            return None
    return None


_T1_ENCODING = re.compile(rb"/Encoding\s+(StandardEncoding|\d+\s+array(.*?)\bdef\b)", re.DOTALL)
_T1_PUT = re.compile(rb"dup\s+(\d+)\s*/([^\s/\[\]{}()<>]+)\s+put")


def builtin_encoding(fd: object, limits: PdfLimits) -> list[str] | None:
    """The encoding built into an embedded Type1 (FontFile) or CFF (FontFile3) program.

    Type1: the ``/Encoding`` array in the program's clear-text part (read with a
    regex: no PostScript is run). CFF: fontTools' parser. None when there is no
    embedded program or its encoding cannot be read.
    """
    if not isinstance(fd, pikepdf.Dictionary):
        return None
    program = fd.get("/FontFile")
    if isinstance(program, pikepdf.Stream):
        data = decoded_stream(program, limits)
        clear_len = int(_num(program.get("/Length1"), 0))
        clear = data[:clear_len] if 0 < clear_len <= len(data) else data[: data.find(b"eexec") + 1 or None]
        match = _T1_ENCODING.search(clear)
        if match is None:
            return None
        if match.group(1) == b"StandardEncoding":
            return list(_std14.ENCODINGS["StandardEncoding"])
        names = [".notdef"] * 256
        for code, name in _T1_PUT.findall(match.group(2)):
            if int(code) < 256:
                names[int(code)] = name.decode("latin-1")
        return names
    program = fd.get("/FontFile3")
    if isinstance(program, pikepdf.Stream) and program.get("/Subtype") == "/Type1C":
        try:
            cff = CFFFontSet()
            cff.decompile(io.BytesIO(decoded_stream(program, limits)), None)
            encoding = cff[cff.fontNames[0]].Encoding
        except Exception:  # noqa: BLE001  (fontTools raises anything on a damaged program)
            return None
        if encoding == "StandardEncoding":
            return list(_std14.ENCODINGS["StandardEncoding"])
        if isinstance(encoding, list) and len(encoding) == 256:
            return [str(n) for n in encoding]
    return None


def _simple_encoding(
    font: pikepdf.Dictionary, base_font: str, symbolic: bool, builtin: list[str] | None = None
) -> list[str]:
    std = std14_widths(base_font)
    if builtin is not None:
        names = list(builtin)
    elif base_font.startswith("Symbol"):
        names = list(_std14.ENCODINGS["SymbolEncoding"])
    elif base_font.startswith("ZapfDingbats"):
        names = list(_std14.ENCODINGS["ZapfDingbatsEncoding"])
    elif symbolic and std is None and font.get("/Subtype") == "/TrueType":
        names = [""] * 256
    else:
        names = list(_std14.ENCODINGS["StandardEncoding"])
    enc = font.get("/Encoding")
    if isinstance(enc, pikepdf.Name):
        table = _std14.ENCODINGS.get(str(enc)[1:])
        if table is not None:
            names = list(table)
    elif isinstance(enc, pikepdf.Dictionary):
        base = enc.get("/BaseEncoding")
        if isinstance(base, pikepdf.Name):
            table = _std14.ENCODINGS.get(str(base)[1:])
            if table is not None:
                names = list(table)
        diffs = enc.get("/Differences")
        if isinstance(diffs, pikepdf.Array):
            code = 0
            for item in diffs:
                if isinstance(item, pikepdf.Name):
                    if 0 <= code < 256:
                        names[code] = str(item)[1:]
                    code += 1
                else:
                    code = int(_num(item, 0))
    return names


def load_font(font: pikepdf.Object, limits: PdfLimits) -> FontInfo:
    if not isinstance(font, pikepdf.Dictionary):
        return FontInfo(
            name="?",
            kind="simple",
            problem="font resource is not a dictionary",
            text_table=[None] * 256,
            width_table=[0.0] * 256,
        )
    subtype = str(font.get("/Subtype", "/Type1"))
    base_font = _SUBSET_TAG.sub("", str(font.get("/BaseFont", "/?"))[1:])
    if subtype == "/Type0":
        return _load_type0(font, base_font, limits)
    kind = "type3" if subtype == "/Type3" else "simple"
    info = FontInfo(name=base_font, kind=kind)
    fd = font.get("/FontDescriptor")
    flags = int(_num(fd.get("/Flags"), 0)) if isinstance(fd, pikepdf.Dictionary) else 0
    symbolic = bool(flags & 4) and not flags & 32
    tu = _load_tounicode(font, limits)
    builtin = None
    enc = font.get("/Encoding")
    # With no /Encoding (or /Differences without /BaseEncoding on a symbolic font), a Type1
    # font's codes mean what its own program says, not StandardEncoding.
    if subtype in ("/Type1", "/MMType1") and (
        enc is None or (symbolic and isinstance(enc, pikepdf.Dictionary) and "/BaseEncoding" not in enc)
    ):
        builtin = builtin_encoding(fd, limits)
        if builtin is None and symbolic and tu is None and std14_widths(base_font) is None:
            info.problem = "a symbolic Type1 font's built-in encoding cannot be read"
    names = _simple_encoding(font, base_font, symbolic, builtin)
    info.to_unicode = tu
    table: list[str | None] = []
    for code in range(256):
        text = tu.lookup_unicode(code) if tu is not None else None
        if text is None:
            text = glyph_name_text(names[code])
        table.append(text)
    info.text_table = table

    # Widths.
    scale = 1.0
    if kind == "type3":
        matrix = font.get("/FontMatrix")
        if isinstance(matrix, pikepdf.Array) and len(matrix) == 6:
            scale = _num(matrix[0], 0.001) * 1000.0
            yscale = _num(matrix[3], 0.001) * 1000.0
        else:
            scale = yscale = 1.0
        bbox = font.get("/FontBBox")
        if isinstance(bbox, pikepdf.Array) and len(bbox) == 4:
            top = _num(bbox[3], 0) * yscale
            bottom = _num(bbox[1], 0) * yscale
            info.ascent = min(max(top, 500.0), 1300.0)
            info.descent = max(min(bottom, -150.0), -500.0)
    else:
        _descriptor_metrics(info, fd)
    widths_arr = font.get("/Widths")
    std = std14_widths(base_font) if kind == "simple" else None
    if std is not None and not isinstance(fd, pikepdf.Dictionary):
        info.ascent, info.descent = float(std[1]), float(min(std[2], -150))
    missing = _num(fd.get("/MissingWidth"), 0.0) if isinstance(fd, pikepdf.Dictionary) else 0.0
    wt = [missing * scale] * 256
    if isinstance(widths_arr, pikepdf.Array):
        first = int(_num(font.get("/FirstChar"), 0))
        for idx, w in enumerate(widths_arr):
            code = first + idx
            if 0 <= code < 256:
                wt[code] = _num(w, 0.0) * scale
    elif std is not None:
        std_w = std[0]
        for code in range(256):
            wt[code] = float(std_w.get(names[code], 0))
    else:
        info.widths_exact = False
        wt = [500.0] * 256
    info.width_table = wt
    return info


def _load_type0(font: pikepdf.Dictionary, base_font: str, limits: PdfLimits) -> FontInfo:
    info = FontInfo(name=base_font, kind="type0", code_len=2)
    info.to_unicode = _load_tounicode(font, limits)
    enc = font.get("/Encoding")
    if isinstance(enc, pikepdf.Name):
        enc_name = str(enc)[1:]
        if enc_name in ("Identity-H", "Identity-V"):
            info.identity = True
            info.vertical = enc_name.endswith("-V")
        else:
            pre = predefined_cmap(enc_name)
            if pre is None:
                info.problem = f"predefined CMap {enc_name} is not supported"
                info.widths_exact = False
            else:
                info.predefined = pre
                info.vertical = pre.vertical
                info.code_len = 0
                if pre.unicode_encoding is None:
                    info.cid_text = cid_to_unicode(pre.collection, pre.vertical)
    elif isinstance(enc, pikepdf.Stream):
        try:
            cmap = parse_cmap(decoded_stream(enc, limits))
        except (ValueError, pikepdf.PdfError):
            cmap = CMap()
        info.encoding_cmap = cmap
        info.vertical = int(_num(enc.get("/WMode"), 0)) == 1
        if cmap.codespace:
            info.code_len = 0
            info.codespace = cmap.codespace
    else:
        info.problem = "composite font without an encoding"
    if info.code_len == 2 and not info.identity is not None and info.to_unicode.codespace:
        lengths = {cl for cl, _, _ in info.to_unicode.codespace}
        if lengths != {2}:
            info.code_len = 0
            info.codespace = info.to_unicode.codespace
    descendants = font.get("/DescendantFonts")
    cid_font = descendants[0] if isinstance(descendants, pikepdf.Array) and len(descendants) else None
    if isinstance(cid_font, pikepdf.Dictionary):
        collection = _collection(cid_font)
        if (
            info.predefined is not None
            and collection is not None
            and collection != info.predefined.collection
        ):
            # The CMap yields CIDs of another collection: widths and glyphs would be another
            # font's (reportlab writes MSung-Light, an Adobe-CNS1 font, with UniGB-UCS2-H).
            info.problem = f"predefined CMap {info.predefined.name} does not fit a font of {collection}"
            info.widths_exact = False
        info.default_width = _num(cid_font.get("/DW"), 1000.0)
        _descriptor_metrics(info, cid_font.get("/FontDescriptor"))
        w = cid_font.get("/W")
        if isinstance(w, pikepdf.Array):
            items = list(w)
            i = 0
            while i < len(items):
                first = items[i]
                if i + 1 < len(items) and isinstance(items[i + 1], pikepdf.Array):
                    start = int(_num(first, 0))
                    for k, width in enumerate(items[i + 1]):
                        info.cid_widths[start + k] = _num(width, info.default_width)
                    i += 2
                elif i + 2 < len(items):
                    lo, hi = int(_num(first, 0)), int(_num(items[i + 1], 0))
                    info.cid_width_ranges.append((lo, hi, _num(items[i + 2], info.default_width)))
                    i += 3
                else:
                    break
        if info.vertical:
            _vertical_metrics(info, cid_font)
    elif info.problem is None:
        # Without its CIDFont nothing says how wide a glyph is, nor which glyphs exist.
        info.problem = "a composite font has no descendant CIDFont"
        info.widths_exact = False
    if info.encoding_cmap is not None and not info.encoding_cmap.cid and not info.encoding_cmap.cid_ranges:
        info.widths_exact = False
    return info


def _collection(cid_font: pikepdf.Dictionary) -> str | None:
    """The font's character collection when it is one of Adobe's CJK collections."""
    info = cid_font.get("/CIDSystemInfo")
    if not isinstance(info, pikepdf.Dictionary):
        return None
    registry, ordering = info.get("/Registry"), info.get("/Ordering")
    if not isinstance(registry, pikepdf.String) or not isinstance(ordering, pikepdf.String):
        return None
    name = f"{registry}-{ordering}"
    return name if name in COLLECTIONS else None


def _vertical_metrics(info: FontInfo, cid_font: pikepdf.Dictionary) -> None:
    dw2 = cid_font.get("/DW2")
    if isinstance(dw2, pikepdf.Array) and len(dw2) == 2:
        info.default_vmetrics = (_num(dw2[0], 880.0), _num(dw2[1], -1000.0))
    w2 = cid_font.get("/W2")
    if not isinstance(w2, pikepdf.Array):
        return
    dv1y, dw1y = info.default_vmetrics
    items = list(w2)
    i = 0
    while i < len(items):
        first = int(_num(items[i], 0))
        if i + 1 < len(items) and isinstance(items[i + 1], pikepdf.Array):
            values = [_num(v, 0.0) for v in items[i + 1]]
            for k in range(len(values) // 3):
                w1y, v1x, v1y = values[3 * k : 3 * k + 3]
                info.cid_vmetrics[first + k] = (w1y, v1x, v1y)
            i += 2
        elif i + 4 < len(items):
            last = int(_num(items[i + 1], 0))
            metric = (_num(items[i + 2], dw1y), _num(items[i + 3], 0.0), _num(items[i + 4], dv1y))
            info.cid_vmetric_ranges.append((first, last, (metric[0], metric[1], metric[2])))
            i += 5
        else:
            break


def bisect_offsets(starts: list[int], position: int) -> int:
    """Index of the run whose start offset is the last one <= position."""
    return bisect_right(starts, position) - 1
