"""Does the text layer say what the page shows? A bounded per-font check against pixels.

The engine finds names in the text a font's ToUnicode map, ``/Differences``
names or encoding claim for its glyphs. A font can claim other letters than
its glyphs draw (a forged ToUnicode map, glyph procedures named after other
letters, an embedded TrueType whose cmap is permuted; also garbage subsets
from some producers): the reader sees "Kestrel Dynamics", every extractor
reads "Atlzkts Rnfqdoel", the detector finds nothing and text-based
verification passes. Glyphs that map to *no* text are already unmappable
(their pages are rendered and read by OCR); this module catches glyphs that
map to plausible but wrong text.

How: while a document is read, :class:`TextLayerCensus` counts per font the
visible characters (painting render modes, not hidden by the text model)
each page draws. :meth:`TextLayerCensus.check` then picks the pages where
fonts draw the most (at most :data:`SAMPLE_PAGES` per document, fonts with
the fewest pages first in line), renders each with pdfium at :data:`DPI`,
cuts out up to :data:`LINES_PER_FONT` lines of each font there (only the
font's own extent; other fonts' text may share the cut), scales each to
:data:`STRIP_HEIGHT` pixels and stacks the cuts into one picture per script
that Tesseract (in process, ``ocr_image``) reads once. Per font, the OCR
words inside its cuts are compared with its extracted characters (NFKC,
casefolded, letters and digits only; ``difflib`` ratio). A font is judged
untrustworthy only on a strong reading that disagrees: enough letters read
(:data:`MIN_COVERAGE` of the extracted ones), a confident reading and a low
ratio — with stricter bounds for CJK text, which Tesseract reads less well,
and for scripts the OCR languages do not cover. Every page where such a font
draws visible glyphs is rendered and redacted as pixels by the fallback, and
its output is verified by OCR (see ``engine``).

Bounds and limits: one render per sampled page, one or two OCR runs per
document of at most :data:`MAX_STRIPS` lines. A font with fewer than
:data:`MIN_LETTERS` letters on every page is not judged (a lie of a few
letters passes); fonts that do not fit the page cap are not judged and
counted in the report (``fonts_unchecked``); only upright horizontal lines
are sampled; a font that lies only in glyphs absent from its sampled lines
passes. The OCR text of the lines of an untrustworthy font, and of the whole
render of each page it draws on, is handed to detection.
"""

from __future__ import annotations

import difflib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from exchange.domain.redaction.image.ocr import CONFIDENT, OcrResult, ocr_image
from exchange.domain.redaction.pdf.apply import hidden_glyphs
from exchange.domain.redaction.pdf.fallback import DPI as FALLBACK_DPI
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.textmodel import Box, Interpreter, PageModel, Run, page_box

#: why a page is rendered when one of its fonts failed the check
DISTRUST_REASON = "the text layer does not match what the page shows"
#: pages rendered per document for the check
SAMPLE_PAGES = 8
#: a font is judged only with at least this many letters (or digits) sampled
MIN_LETTERS = 8
#: lines cut out per font, and letters enough for a verdict
LINES_PER_FONT = 4
LETTERS_PER_FONT = 120
#: lines read per document, all fonts together
MAX_STRIPS = 48
#: render resolution, and the height each line's glyph box is scaled to for OCR
DPI = 150
STRIP_HEIGHT = 44
_GAP = 24
_MAX_WIDTH = 3000
#: share of the extracted letters OCR must read, at what mean confidence, and how little
#: they may agree, for a verdict; Latin (and digits), CJK, and other scripts
MIN_COVERAGE = 0.6
BOUNDS = {
    "latin": (70.0, 0.5),
    "han": (80.0, 0.25),
    "other": (88.0, 0.2),
}
_NOT_WORD = re.compile(r"[\W_]+")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[0-9A-Za-z\u00c0-\u024f]")

FontKey = tuple[Any, ...]


def letters(text: str) -> str:
    """What is compared: NFKC, casefolded, letters and digits only."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def script(text: str, languages: str = "eng+chi_sim") -> str:
    """Which :data:`BOUNDS` judge ``text``: "latin", "han" or "other".

    Han counts only when a Chinese model is configured; Kana, Hangul and every
    script the OCR languages do not read are "other" (strictest: an honest font
    in such a script reads as confident nonsense at times).
    """
    if not text:
        return "latin"
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    if han >= 0.3 * len(text) and "chi_" in languages:
        return "han"
    if latin >= 0.5 * len(text):
        return "latin"
    return "other"


def _upright(run: Run) -> bool:
    m = run.m
    return (
        not run.font.vertical
        and m[0] > 0
        and m[3] > 0
        and abs(m[1]) <= 0.01 * m[0]
        and abs(m[2]) <= 0.01 * m[3]
    )


def _visible(run: Run) -> bool:
    return run.invisible is None and run.mode not in (3, 7) and bool(run.text)


@dataclass(slots=True)
class _Line:
    font: FontKey
    page: int
    text: str
    box: Box
    size: float


@dataclass(slots=True)
class FontVerdict:
    letters: int
    read: int
    confidence: float
    ratio: float
    script: str
    distrusted: bool


@dataclass(slots=True)
class TextLayerCheck:
    """Pages whose text layer is not what they show, and what the check did (no document text)."""

    #: page number -> reason (every page an untrustworthy font draws visible glyphs on)
    distrusted: dict[int, str] = field(default_factory=dict)
    pages_sampled: list[int] = field(default_factory=list)
    fonts_checked: int = 0
    fonts_distrusted: int = 0
    #: fonts with enough letters left out by the page or line caps
    fonts_unchecked: int = 0
    lines_read: int = 0
    #: page number -> OCR text of the untrustworthy fonts' lines there (for detection)
    ocr_texts: dict[int, list[str]] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "pages_sampled": list(self.pages_sampled),
            "fonts_checked": self.fonts_checked,
            "fonts_distrusted": self.fonts_distrusted,
            "fonts_unchecked": self.fonts_unchecked,
            "lines_read": self.lines_read,
            "pages_distrusted": sorted(self.distrusted),
        }


class TextLayerCensus:
    """Per font, how many visible letters each page draws (fed page by page, kept small)."""

    def __init__(self, interp: Interpreter) -> None:
        self.interp = interp
        self.letters: dict[FontKey, Counter[int]] = {}
        self._ids: dict[int, FontKey] = {}
        self._known = -1

    def font_key(self, run: Run, page: int) -> FontKey:
        fonts = self.interp.fonts
        if len(fonts) != self._known:
            # Cached fonts live as long as the interpreter: their ids are stable keys.
            self._ids = {id(info): ("obj", *objgen) for objgen, info in fonts.items()}
            self._known = len(fonts)
        key = self._ids.get(id(run.font))
        # Direct font dictionaries are loaded afresh at each use: one key per page and name.
        return key if key is not None else ("direct", page, run.font.name)

    def add(self, model: PageModel) -> None:
        page = model.page_number
        for run in model.text_runs:
            if not _visible(run):
                continue
            count = len(_NOT_WORD.sub("", run.text))
            if count:
                self.letters.setdefault(self.font_key(run, page), Counter())[page] += count

    def pages_of(self, fonts: Iterable[FontKey]) -> set[int]:
        return {page for key in fonts for page in self.letters.get(key, ())}

    def plan(self) -> tuple[list[int], set[FontKey]]:
        """Pages to sample (see module docstring) and the fonts they judge."""
        eligible = {k for k, pages in self.letters.items() if max(pages.values()) >= MIN_LETTERS}
        remaining = set(eligible)
        chosen: list[int] = []
        while remaining and len(chosen) < SAMPLE_PAGES:
            # Fonts drawn on the fewest pages pick first: a font used once must not be
            # crowded out by fonts every page uses.
            rare = min(remaining, key=lambda k: (len(self.letters[k]), -max(self.letters[k].values())))
            counts = self.letters[rare]
            candidates = [p for p, n in counts.items() if n >= MIN_LETTERS]
            best = max(
                candidates,
                key=lambda p: (
                    sum(1 for k in remaining if self.letters[k].get(p, 0) >= MIN_LETTERS),
                    counts[p],
                    -p,
                ),
            )
            chosen.append(best)
            remaining = {k for k in remaining if self.letters[k].get(best, 0) < MIN_LETTERS}
        return sorted(chosen), eligible - remaining

    def check(
        self, data: bytes, pdf: pikepdf.Pdf, limits: PdfLimits, *, languages: str, timeout: float
    ) -> TextLayerCheck:
        """Render the sampled pages, read the fonts' lines by OCR, judge each font."""
        result = TextLayerCheck()
        pages, judged = self.plan()
        result.pages_sampled = pages
        eligible = sum(1 for pages_ in self.letters.values() if max(pages_.values()) >= MIN_LETTERS)
        if not pages:
            return result
        lines = self._lines(pdf, pages, judged)
        strips = _cut(data, lines, limits)
        verdicts, texts = _judge(strips, languages=languages, timeout=timeout)
        result.lines_read = len(strips)
        result.fonts_checked = len(verdicts)
        result.fonts_unchecked = eligible - len(verdicts)
        bad = {key for key, verdict in verdicts.items() if verdict.distrusted}
        result.fonts_distrusted = len(bad)
        for page in sorted(self.pages_of(bad)):
            result.distrusted[page] = DISTRUST_REASON
        for (key, page), text in texts.items():
            if key in bad and text.strip():
                result.ocr_texts.setdefault(page, []).append(text)
        return result

    def _lines(self, pdf: pikepdf.Pdf, pages: list[int], judged: set[FontKey]) -> list[_Line]:
        """Up to :data:`LINES_PER_FONT` lines per judged font, from the first sampled page it fills."""
        out: list[_Line] = []
        done: set[FontKey] = set()
        for number in pages:
            model = self.interp.page_model(pdf.pages[number - 1].obj, number)
            hidden = hidden_glyphs(model)
            concealed = set(hidden.under) | set(hidden.offpage) | set(hidden.invisible)
            by_font: dict[FontKey, list[_Line]] = {}
            current: _Line | None = None
            end_x = 0.0
            for run in model.text_runs:
                if not _visible(run) or not _upright(run) or run in concealed:
                    current = None
                    continue
                key = self.font_key(run, number)
                if key not in judged or key in done:
                    current = None
                    continue
                box = run.glyph_box(0, len(run.codes) - 1)
                height = max(box[3] - box[1], 0.1)
                if (
                    current is not None
                    and current.font == key
                    and abs(current.box[1] - box[1]) < 0.2 * height
                    and -0.5 * height < box[0] - end_x < 3 * height
                ):
                    current.text += run.text
                    b = current.box
                    current.box = (min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3]))
                else:
                    current = _Line(key, number, run.text, box, height)
                    by_font.setdefault(key, []).append(current)
                end_x = box[2]
            for key, candidates in by_font.items():
                found = sorted(
                    (line for line in candidates if len(letters(line.text)) >= 3),
                    key=lambda line: -len(letters(line.text)),
                )
                total = 0
                for line in found[:LINES_PER_FONT]:
                    if total >= LETTERS_PER_FONT:
                        break
                    out.append(line)
                    total += len(letters(line.text))
                if total >= MIN_LETTERS:
                    done.add(key)
            del model
        return out[:MAX_STRIPS]


@dataclass(slots=True)
class _Strip:
    line: _Line
    image: Image.Image


def _cut(data: bytes, lines: list[_Line], limits: PdfLimits) -> list[_Strip]:
    """Each line cut from its page's render and scaled to :data:`STRIP_HEIGHT`."""
    strips: list[_Strip] = []
    if not lines:
        return strips
    scale = DPI / 72.0
    pages = sorted({ln.page for ln in lines})
    for number, image, (x0, _y0, _x1, y1) in _renders(data, pages, limits, DPI, "L"):
        for line in (ln for ln in lines if ln.page == number):
            bx0, by0, bx1, by1 = line.box
            pad_y = 0.2 * line.size
            pad_x = 0.4 * line.size
            left = max(int((bx0 - pad_x - x0) * scale), 0)
            right = min(int((bx1 + pad_x - x0) * scale) + 1, image.width)
            top = max(int((y1 - by1 - pad_y) * scale), 0)
            bottom = min(int((y1 - by0 + pad_y) * scale) + 1, image.height)
            if right - left < 4 or bottom - top < 4:
                continue
            crop = image.crop((left, top, right, bottom))
            factor = STRIP_HEIGHT / max(line.size * scale, 1.0)
            factor = min(max(factor, 0.25), 4.0)
            width = max(int(crop.width * factor), 1)
            if width > _MAX_WIDTH:
                factor *= _MAX_WIDTH / width
                width = _MAX_WIDTH
            strips.append(_Strip(line, crop.resize((width, max(int(crop.height * factor), 1)))))
    return strips


def _montage(strips: list[_Strip]) -> tuple[Image.Image, list[tuple[int, int]]]:
    width = max(s.image.width for s in strips) + 2 * _GAP
    height = sum(s.image.height + _GAP for s in strips) + _GAP
    sheet = Image.new("L", (width, height), 255)
    spans: list[tuple[int, int]] = []
    y = _GAP
    for strip in strips:
        sheet.paste(strip.image, (_GAP, y))
        spans.append((y, y + strip.image.height))
        y += strip.image.height + _GAP
    return sheet, spans


def _languages(configured: str, kind: str) -> str:
    wanted = [lang for lang in configured.split("+") if lang]
    # Latin lines read best (and fastest) without the CJK models, when English is configured.
    if kind == "latin" and "eng" in wanted:
        return "eng"
    return "+".join(wanted)


def _judge(
    strips: list[_Strip], *, languages: str, timeout: float
) -> tuple[dict[FontKey, FontVerdict], dict[tuple[FontKey, int], str]]:
    """OCR the strips (one picture per script group) and compare per font."""
    extracted: dict[FontKey, list[str]] = {}
    read: dict[FontKey, list[tuple[str, float]]] = {}
    texts: dict[tuple[FontKey, int], list[str]] = {}
    groups: dict[str, list[_Strip]] = {}
    for strip in strips:
        kind = "latin" if script(letters(strip.line.text)) == "latin" else "wide"
        groups.setdefault(kind, []).append(strip)
    for kind, members in groups.items():
        sheet, spans = _montage(members)
        result: OcrResult = ocr_image(sheet, languages=_languages(languages, kind), timeout=timeout, psm=6)
        per_strip: list[list[tuple[int, str, float]]] = [[] for _ in members]
        for word in result.words:
            middle = (word.box[1] + word.box[3]) / 2
            for k, (top, bottom) in enumerate(spans):
                if top - _GAP / 2 <= middle < bottom + _GAP / 2:
                    per_strip[k].append((word.box[0], word.text, word.confidence))
                    break
        for strip, found in zip(members, per_strip, strict=True):
            key = strip.line.font
            extracted.setdefault(key, []).append(strip.line.text)
            found.sort()
            read.setdefault(key, []).extend((text, conf) for _, text, conf in found)
            texts.setdefault((key, strip.line.page), []).append(" ".join(text for _, text, _ in found))
    verdicts: dict[FontKey, FontVerdict] = {}
    for key, parts in extracted.items():
        ext = letters("".join(parts))
        if len(ext) < MIN_LETTERS:
            continue
        words = [(letters(text), conf) for text, conf in read.get(key, [])]
        seen = "".join(w for w, _ in words)
        weight = sum(len(w) for w, _ in words)
        confidence = sum(len(w) * c for w, c in words) / weight if weight else 0.0
        ratio = difflib.SequenceMatcher(None, ext, seen, autojunk=False).ratio()
        kind = script(ext, languages)
        min_conf, max_ratio = BOUNDS[kind]
        distrusted = (
            len(seen) >= MIN_COVERAGE * len(ext)
            and confidence >= max(min_conf, CONFIDENT)
            and ratio < max_ratio
        )
        verdicts[key] = FontVerdict(
            len(ext), len(seen), round(confidence, 1), round(ratio, 3), kind, distrusted
        )
    return verdicts, {k: "\n".join(v) for k, v in texts.items()}


def page_renders(data: bytes, pages: list[int], limits: PdfLimits) -> Iterator[tuple[int, Image.Image]]:
    """``pages`` rendered as the fallback renders them (unrotated, at its DPI, RGB), for OCR."""
    for number, image, _box in _renders(data, pages, limits, FALLBACK_DPI, "RGB"):
        yield number, image


def _renders(
    data: bytes, pages: list[int], limits: PdfLimits, dpi: float, mode: str
) -> Iterator[tuple[int, Image.Image, tuple[float, float, float, float]]]:
    """Each of ``pages`` rendered unrotated at ``dpi`` in ``mode``, with its page box (PDF units).

    A page whose render would exceed the pixel limit is skipped.
    """
    if not pages:
        return
    scale = dpi / 72.0
    doc = pdfium.PdfDocument(data)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for number in pages:
                box = page_box(pdf.pages[number - 1].obj)
                x0, y0, x1, y1 = box
                if (x1 - x0) * (y1 - y0) * scale * scale > limits.max_image_pixels:
                    continue
                page = doc[number - 1]
                try:
                    page.set_rotation(0)
                    image = page.render(scale=scale, may_draw_forms=False).to_pil().convert(mode)
                finally:
                    page.close()
                yield number, image, box
    finally:
        doc.close()
