"""A content-stream interpreter that knows where every glyph came from.

For one page it walks the page's content streams and, recursively, the Form
XObjects they paint (annotation appearances are flattened into forms before
this runs), keeping the graphics and text state the PDF specification
defines. It records:

* one :class:`Run` per string operand of ``Tj``, ``TJ``, ``'`` and ``"``: the
  glyph codes, their Unicode text (``None`` when unmappable), their positions
  in text space and the matrix from text space to the page (vertical writing:
  from a frame whose first axis runs down the column, so positions still grow
  along the writing direction). A run knows the
  content stream, instruction and array element it came from, which is what
  lets the rewriter remove exactly those glyphs;
* every filled path and shading (:class:`Cover`: its exact area as the fill
  shape — rectangles, polygons, flattened curves, nonzero or even-odd —
  intersected with the clipping region, its colour as RGB when known, and
  whether it is opaque: fill alpha 1, normal blend, not a tiling pattern) in
  painting order, to find text under paint and text in its backdrop's colour;
* per text run, the fill and stroke colours (``g``/``rg``/``k``/``sc``/``scn``
  in DeviceGray/RGB/CMYK, ICCBased, Cal*, Lab, Indexed, Separation/DeviceN
  where tint 0 is paper and the colourant ``/None`` paints nothing), the
  clipping region in force (``W n``/``W* n`` paths and every Form XObject's
  ``/BBox``), and whether the run is invisible as a whole (fill alpha ~0, no
  ink, or smaller than :data:`TINY_TEXT` in either direction, e.g. ``Tz`` ~0);
* image placements (XObject and inline) with their matrices, for repainting
  pixels under redaction boxes;
* optional-content sections hidden by default, which are dropped entirely
  (the sanitisation profile removes hidden layers rather than exposing them).

Invariants: nothing here writes to the PDF. Each Form XObject gets one
:class:`StreamContext` per page, shared by all its uses on that page, so a
removal inside a form is applied once to a page-private copy of that form.
Streams it does not walk — tiling-pattern cells and soft-mask groups — are
checked for text-showing operators; a page painting with one that shows text
fails closed (its text would otherwise be read by nothing).
Threat assumptions: operands may be of the wrong type or missing (skipped),
forms may reference themselves (rejected), streams may be bombs (bounded).
The applicant may hide text from view by any means a viewer honours; what is
recorded here lets ``apply.hidden_glyphs`` find it. Where a colour cannot be
known (patterns, spot tints, images behind the text) the text counts as
visible: the model never guesses text invisible from missing information.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import pikepdf

from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.pdf.fonts import FontInfo, load_font
from exchange.domain.redaction.pdf.limits import PdfLimits, check_stream_size

Matrix = tuple[float, float, float, float, float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in page user space
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_FILL_OPS = frozenset({"f", "F", "f*", "B", "B*", "b", "b*"})
_PAINT_OPS = frozenset({"f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "n"})
_COLOUR_OPS = frozenset({"g", "G", "rg", "RG", "k", "K", "cs", "CS", "sc", "SC", "scn", "SCN"})
_TEXT_SHOW = frozenset({"Tj", "TJ", "'", '"'})
_NORMAL_BLEND = frozenset({"/Normal", "/Compatible"})
#: Text whose glyphs are smaller than this (page units, either direction) cannot be read.
TINY_TEXT = 1.0
_MARKED_TEXT_KEYS = ("/ActualText", "/Alt", "/E")
#: Resource categories whose entries no operator names are dropped (they can hold
#: content streams, text strings or pictures). Colour spaces stay: inline images
#: may name them in ways this model does not track.
PRUNED_RESOURCES = ("/XObject", "/Font", "/ExtGState", "/Pattern", "/Shading", "/Properties")


def mul(m: Matrix, n: Matrix) -> Matrix:
    """``m`` then ``n`` (PDF row-vector convention: [x y 1] × m × n)."""
    a, b, c, d, e, f = m
    aa, bb, cc, dd, ee, ff = n
    return (
        a * aa + b * cc,
        a * bb + b * dd,
        c * aa + d * cc,
        c * bb + d * dd,
        e * aa + f * cc + ee,
        e * bb + f * dd + ff,
    )


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])


def transform_box(m: Matrix, x0: float, y0: float, x1: float, y1: float) -> Box:
    """Bounding box of the image of an axis-aligned box (exact: extremes are at corners)."""
    a, b, c, d, e, f = m
    ax0, ax1, cy0, cy1 = a * x0, a * x1, c * y0, c * y1
    bx0, bx1, dy0, dy1 = b * x0, b * x1, d * y0, d * y1
    return (
        e + min(ax0, ax1) + min(cy0, cy1),
        f + min(bx0, bx1) + min(dy0, dy1),
        e + max(ax0, ax1) + max(cy0, cy1),
        f + max(bx0, bx1) + max(dy0, dy1),
    )


def to_matrix(obj: Any) -> Matrix | None:
    try:
        vals = [float(v) for v in obj]
    except (TypeError, ValueError):
        return None
    if len(vals) != 6 or not all(math.isfinite(v) for v in vals):
        return None
    return (vals[0], vals[1], vals[2], vals[3], vals[4], vals[5])


def _f(obj: Any, default: float = 0.0) -> float:
    try:
        value = float(obj)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


Point = tuple[float, float]
RGB = tuple[float, float, float]
WHITE: RGB = (1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class Shape:
    """A region of the page in device space: its bounding box and, unless it *is* that box, polygons.

    ``polys`` is None when the region is exactly ``bbox``; an empty tuple is the empty region
    (a clip to a zero-area path hides everything drawn after it).
    """

    bbox: Box
    polys: tuple[tuple[Point, ...], ...] | None = None
    evenodd: bool = False

    def contains(self, x: float, y: float) -> bool:
        b = self.bbox
        if not (b[0] <= x <= b[2] and b[1] <= y <= b[3]):
            return False
        return True if self.polys is None else _inside_polys(self.polys, x, y, self.evenodd)


def _inside_polys(polys: tuple[tuple[Point, ...], ...], x: float, y: float, evenodd: bool) -> bool:
    """Nonzero-winding (or even-odd) point-in-path test; subpaths are closed implicitly."""
    winding = 0
    crossings = 0
    for poly in polys:
        n = len(poly)
        for i in range(n):
            x0, y0 = poly[i]
            x1, y1 = poly[(i + 1) % n]
            side = (x1 - x0) * (y - y0) - (x - x0) * (y1 - y0)
            if y0 <= y:
                if y1 > y and side > 0:
                    winding += 1
                    crossings += 1
            elif y1 <= y and side < 0:
                winding -= 1
                crossings += 1
    return crossings % 2 == 1 if evenodd else winding != 0


def _is_box(poly: tuple[Point, ...]) -> bool:
    pts = poly[:4] if len(poly) == 5 and poly[4] == poly[0] else poly
    if len(pts) != 4:
        return False
    xs = {round(p[0], 3) for p in pts}
    ys = {round(p[1], 3) for p in pts}
    corners = {(round(p[0], 3), round(p[1], 3)) for p in pts}
    if len(xs) != 2 or len(ys) != 2 or len(corners) != 4:
        return False
    # Consecutive corners must share an x or a y (a rectangle, not a bow tie).
    return all(
        round(pts[i][0], 3) == round(pts[i - 1][0], 3) or round(pts[i][1], 3) == round(pts[i - 1][1], 3)
        for i in range(4)
    )


def make_shape(subpaths: list[list[Point]], ctm: Matrix, evenodd: bool) -> Shape:
    """The area a fill (or clip) of ``subpaths`` covers, in device space."""
    polys = [tuple(apply(ctm, x, y) for x, y in sp) for sp in subpaths if len(sp) >= 3]
    if not polys:
        return Shape((0.0, 0.0, 0.0, 0.0), ())
    xs = [p[0] for poly in polys for p in poly]
    ys = [p[1] for poly in polys for p in poly]
    bbox = (min(xs), min(ys), max(xs), max(ys))
    if len(polys) == 1 and _is_box(polys[0]):
        return Shape(bbox)
    return Shape(bbox, tuple(polys), evenodd)


def box_shape(box: Box, ctm: Matrix) -> Shape:
    x0, y0, x1, y1 = box
    return make_shape([[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]], ctm, False)


@dataclass(frozen=True, slots=True)
class Cover:
    """An opaque paint (fill, shading) in painting order: the area inside every shape."""

    order: int
    bbox: Box
    shapes: tuple[Shape, ...]
    #: the paint's colour as RGB, None when unknown (shading, pattern, spot colour).
    colour: RGB | None
    #: False for translucent or patterned paint: a backdrop of unknown colour, hiding nothing.
    opaque: bool = True

    def contains(self, x: float, y: float) -> bool:
        b = self.bbox
        if not (b[0] <= x <= b[2] and b[1] <= y <= b[3]):
            return False
        return all(s.contains(x, y) for s in self.shapes)


def _intersect(boxes: list[Box]) -> Box | None:
    x0 = max(b[0] for b in boxes)
    y0 = max(b[1] for b in boxes)
    x1 = min(b[2] for b in boxes)
    y1 = min(b[3] for b in boxes)
    if x1 - x0 <= 0.5 or y1 - y0 <= 0.5:
        return None
    return (x0, y0, x1, y1)


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point) -> list[Point]:
    out = []
    for t in (0.25, 0.5, 0.75, 1.0):
        u = 1.0 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        out.append(
            (a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1])
        )
    return out


# -- colour ------------------------------------------------------------------------
#: A colour space as far as visibility goes: kind, component count, extra data
#: (Indexed: (base, hival, lookup); Pattern: None). Kinds: gray, rgb, cmyk, lab,
#: none (Separation/DeviceN of the colourant /None: paints nothing), spot
#: (other Separation/DeviceN: tint 0 is no ink, anything else unknown),
#: indexed, pattern, unknown.
ColourSpace = tuple[str, int, Any]
_GRAY: ColourSpace = ("gray", 1, None)
_RGB_CS: ColourSpace = ("rgb", 3, None)
_CMYK: ColourSpace = ("cmyk", 4, None)
_PATTERN: ColourSpace = ("pattern", 0, None)
_UNKNOWN: ColourSpace = ("unknown", 0, None)
_DEVICE_SPACES = {
    "/DeviceGray": _GRAY,
    "/G": _GRAY,
    "/CalGray": _GRAY,
    "/DeviceRGB": _RGB_CS,
    "/RGB": _RGB_CS,
    "/CalRGB": _RGB_CS,
    "/DeviceCMYK": _CMYK,
    "/CMYK": _CMYK,
    "/Pattern": _PATTERN,
}
_INITIAL_COLOUR = {
    "gray": (0.0,),
    "rgb": (0.0, 0.0, 0.0),
    "cmyk": (0.0, 0.0, 0.0, 1.0),
    "lab": (0.0, 0.0, 0.0),
}
#: Two colours closer than this (per RGB component) are indistinguishable on the page.
SAME_COLOUR = 0.04


def _clamp(v: float) -> float:
    return 0.0 if v < 0.0 else 1.0 if v > 1.0 else v


def colour_to_rgb(cs: ColourSpace, comps: list[float]) -> RGB | None:
    """An RGB approximation of a colour, or None when it cannot be known."""
    kind = cs[0]
    if kind == "gray" and comps:
        g = _clamp(comps[0])
        return (g, g, g)
    if kind == "rgb" and len(comps) >= 3:
        return (_clamp(comps[0]), _clamp(comps[1]), _clamp(comps[2]))
    if kind == "cmyk" and len(comps) >= 4:
        c, m, y, k = (_clamp(v) for v in comps[:4])
        return (1.0 - min(1.0, c + k), 1.0 - min(1.0, m + k), 1.0 - min(1.0, y + k))
    if kind == "lab" and len(comps) >= 3:
        if abs(comps[1]) < 2.0 and abs(comps[2]) < 2.0:
            g = _clamp(comps[0] / 100.0)
            return (g, g, g)
        return None
    if kind == "spot" and comps:
        return WHITE if all(v <= 0.001 for v in comps) else None
    if kind == "indexed" and comps:
        base, hival, lookup = cs[2]
        index = int(min(max(round(comps[0]), 0), hival))
        n = base[1]
        chunk = lookup[index * n : (index + 1) * n]
        if n == 0 or len(chunk) != n:
            return None
        return colour_to_rgb(base, [b / 255.0 for b in chunk])
    return None


def same_colour(a: RGB, b: RGB) -> bool:
    return (
        abs(a[0] - b[0]) <= SAME_COLOUR
        and abs(a[1] - b[1]) <= SAME_COLOUR
        and abs(a[2] - b[2]) <= SAME_COLOUR
    )


@dataclass(slots=True, eq=False)
class StreamContext:
    """One content stream (a page's, or a Form XObject's) as seen from one page."""

    key: tuple[Any, ...]
    source: pikepdf.Object
    instructions: list[Any]
    resources: pikepdf.Object | None
    is_page: bool
    drop: set[int] = field(default_factory=set)
    replace: dict[int, list[Any]] = field(default_factory=dict)
    removed: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    proto: dict[tuple[int, int], Run] = field(default_factory=dict)
    children: dict[str, StreamContext] = field(default_factory=dict)
    xobject_replacements: dict[str, pikepdf.Object] = field(default_factory=dict)
    #: resource names this stream's operators refer to, by category (see PRUNED_RESOURCES).
    used: dict[str, set[str]] = field(default_factory=dict)
    #: resources no operator refers to: never shown, yet they may hold text or pictures.
    unused: dict[str, set[str]] = field(default_factory=dict)

    def use(self, category: str, name: str) -> None:
        self.used.setdefault(category, set()).add(name)

    #: BDC instructions carrying /ActualText, /Alt or /E in an inline dictionary.
    marked_text: list[int] = field(default_factory=list)
    #: named property lists (in /Properties) carrying those keys; redacted in place.
    marked_named: list[pikepdf.Dictionary] = field(default_factory=list)
    final_depth: int = 0
    #: set when the same form shows text under different text states on one page.
    inconsistent: bool = False

    def changed(self) -> bool:
        return bool(self.drop or self.replace or self.removed or self.unused)


@dataclass(slots=True, eq=False)
class Run:
    ctx: StreamContext
    instr: int
    elem: int
    op: str
    font: FontInfo
    codes: list[int]
    offsets: list[int] | None
    texts: list[str | None]
    #: cumulative glyph start positions along text-space x (n + 1 entries).
    xs: list[float]
    #: visible glyph widths in text space.
    gw: list[float]
    m: Matrix
    y0: float
    y1: float
    size: float
    mode: int
    order: int
    #: text-space advance per 1000 TJ units along ``xs`` (negative in vertical writing,
    #: where a positive TJ number moves down the column, i.e. forward).
    tfs_th: float
    #: paint colours (None: unknown) and clipping region in force when the run was shown.
    fill: RGB | None = None
    stroke: RGB | None = None
    clip: tuple[Shape, ...] = ()
    #: why every glyph of the run is invisible ("transparent", "no_ink", "tiny"), or None.
    invisible: str | None = None
    text: str = ""
    text_start: int = -1
    #: per-character glyph index, only when some glyph has != 1 characters.
    char_glyph: list[int] | None = None

    def glyph_box(self, i: int, j: int | None = None) -> Box:
        """Page-space bounding box of glyphs i..j (inclusive)."""
        j = i if j is None else j
        x0 = self.xs[i]
        x1 = self.xs[j] + self.gw[j]
        if x1 < x0:
            x0, x1 = x1, x0
        return transform_box(self.m, x0, self.y0, x1, self.y1)

    def center(self, i: int) -> tuple[float, float]:
        return apply(self.m, self.xs[i] + self.gw[i] / 2.0, (self.y0 + self.y1) / 2.0)


@dataclass(slots=True, eq=False)
class ImagePlacement:
    ctx: StreamContext
    instr: int
    #: XObject resource name, or None for an inline image.
    name: str | None
    obj: Any
    ctm: Matrix
    bbox: Box


@dataclass(slots=True, eq=False)
class PageModel:
    page_number: int
    page: pikepdf.Object
    root: StreamContext
    crop: Box
    runs: list[Run] = field(default_factory=list)
    #: opaque fills and shadings in painting order.
    covers: list[Cover] = field(default_factory=list)
    #: opaque images in painting order; the flag marks images covering most of the page.
    image_covers: list[tuple[int, Box, bool]] = field(default_factory=list)
    images: list[ImagePlacement] = field(default_factory=list)
    contexts: dict[tuple[Any, ...], StreamContext] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unmappable: int = 0
    hidden_oc_ops: int = 0
    text: str = ""
    run_starts: list[int] = field(default_factory=list)
    text_runs: list[Run] = field(default_factory=list)


class _GState:
    __slots__ = (
        "blend_normal",
        "clip",
        "ctm",
        "fill",
        "fill_alpha",
        "fill_cs",
        "fill_ink",
        "font",
        "mode",
        "stroke",
        "stroke_alpha",
        "stroke_cs",
        "tc",
        "tfs",
        "th",
        "tl",
        "ts",
        "tw",
    )

    def __init__(self) -> None:
        self.ctm: Matrix = IDENTITY
        self.font: FontInfo | None = None
        self.tfs = 0.0
        self.tc = 0.0
        self.tw = 0.0
        self.th = 1.0
        self.tl = 0.0
        self.ts = 0.0
        self.mode = 0
        self.fill_alpha = 1.0
        self.stroke_alpha = 1.0
        self.blend_normal = True
        #: clipping region: a point is visible only inside every shape.
        self.clip: tuple[Shape, ...] = ()
        self.fill_cs: ColourSpace = _GRAY
        self.stroke_cs: ColourSpace = _GRAY
        self.fill: RGB | None = (0.0, 0.0, 0.0)
        self.stroke: RGB | None = (0.0, 0.0, 0.0)
        #: "paint" (opaque ink), "none" (paints nothing) or "sparse" (a tiling pattern).
        self.fill_ink = "paint"

    def copy(self) -> _GState:
        g = _GState.__new__(_GState)
        for name in _GState.__slots__:
            setattr(g, name, getattr(self, name))
        return g


class OptionalContent:
    """Which optional-content groups are hidden in the default configuration."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.hidden: set[tuple[int, int]] = set()
        self.present = False
        props = pdf.Root.get("/OCProperties")
        if not isinstance(props, pikepdf.Dictionary):
            return
        self.present = True
        default = props.get("/D")
        ocgs = props.get("/OCGs")
        all_groups = (
            [g.objgen for g in ocgs if isinstance(g, pikepdf.Dictionary)]
            if isinstance(ocgs, pikepdf.Array)
            else []
        )
        if not isinstance(default, pikepdf.Dictionary):
            return
        if default.get("/BaseState") == "/OFF":
            on = default.get("/ON")
            on_set = (
                {g.objgen for g in on if isinstance(g, pikepdf.Dictionary)}
                if isinstance(on, pikepdf.Array)
                else set()
            )
            self.hidden = {g for g in all_groups if g not in on_set}
        off = default.get("/OFF")
        if isinstance(off, pikepdf.Array):
            self.hidden |= {g.objgen for g in off if isinstance(g, pikepdf.Dictionary)}

    def is_hidden(self, oc: Any) -> bool:
        if not self.present or not isinstance(oc, pikepdf.Dictionary):
            return False
        if oc.get("/Type") == "/OCMD":
            groups = oc.get("/OCGs")
            members: list[Any] = list(groups) if isinstance(groups, pikepdf.Array) else [groups]
            members = [g for g in members if isinstance(g, pikepdf.Dictionary)]
            if not members:
                return False
            policy = str(oc.get("/P", "/AnyOn"))
            hidden = [g.objgen in self.hidden for g in members]
            if policy == "/AllOn":
                return any(hidden)
            if policy == "/AnyOff":
                return not any(hidden)
            if policy == "/AllOff":
                return not all(hidden)
            return all(hidden)
        return oc.objgen in self.hidden


def inherited(page: pikepdf.Object, key: str) -> Any:
    node: Any = page
    for _ in range(64):
        value = node.get(key)
        if value is not None:
            return value
        node = node.get("/Parent")
        if not isinstance(node, pikepdf.Dictionary):
            return None
    return None


def page_box(page: pikepdf.Object) -> Box:
    media = inherited(page, "/MediaBox")
    crop = inherited(page, "/CropBox")
    box = [0.0, 0.0, 612.0, 792.0]
    for candidate in (media, crop):
        if isinstance(candidate, pikepdf.Array) and len(candidate) == 4:
            vals = [_f(v) for v in candidate]
            x0, x1 = sorted((vals[0], vals[2]))
            y0, y1 = sorted((vals[1], vals[3]))
            if candidate is media:
                box = [x0, y0, x1, y1]
            else:
                box = [max(box[0], x0), max(box[1], y0), min(box[2], x1), min(box[3], y1)]
    return (box[0], box[1], box[2], box[3])


def parse_stream_instructions(stream: pikepdf.Object, limits: PdfLimits) -> list[Any]:
    try:
        with warnings.catch_warnings():
            # qpdf warns about recoverable damage (e.g. a stream ending mid-token) and
            # parses what is there; the interpreter copes with whatever it gets.
            warnings.simplefilter("ignore")
            return list(pikepdf.parse_content_stream(stream))
    except (pikepdf.PdfError, TypeError, ValueError) as exc:
        raise UnsupportedFile("a page's content stream is damaged and cannot be parsed") from exc


def page_instructions(page: pikepdf.Object, limits: PdfLimits) -> list[Any]:
    contents = page.get("/Contents")
    streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
    for s in streams:
        if isinstance(s, pikepdf.Stream):
            check_stream_size(s, limits)
    if contents is None:
        return []
    return parse_stream_instructions(page, limits)


class Interpreter:
    """Builds :class:`PageModel` objects; font objects are cached per document."""

    def __init__(self, pdf: pikepdf.Pdf, limits: PdfLimits) -> None:
        self.pdf = pdf
        self.limits = limits
        self.fonts: dict[tuple[int, int], FontInfo] = {}
        self.oc = OptionalContent(pdf)
        #: pattern cells and soft-mask groups already checked for text (True: none).
        self._textless: dict[tuple[int, int], bool] = {}

    def font(self, resources: Any, name: Any) -> FontInfo | None:
        if not isinstance(resources, pikepdf.Dictionary):
            return None
        fonts = resources.get("/Font")
        if not isinstance(fonts, pikepdf.Dictionary):
            return None
        obj = fonts.get(str(name))
        if not isinstance(obj, pikepdf.Dictionary):
            return load_font(obj, self.limits) if obj is not None else None
        key = obj.objgen
        if key != (0, 0):
            info = self.fonts.get(key)
            if info is None:
                info = load_font(obj, self.limits)
                self.fonts[key] = info
            return info
        return load_font(obj, self.limits)

    def page_model(self, page: pikepdf.Object, number: int) -> PageModel:
        instructions = page_instructions(page, self.limits)
        resources = inherited(page, "/Resources")
        root = StreamContext(("page",), page, instructions, resources, is_page=True)
        model = PageModel(number, page, root, page_box(page))
        model.contexts[root.key] = root
        self._order = 0
        self._ops = 0
        self._stack: list[tuple[Any, ...]] = []
        self._run(model, root, _GState(), 0)
        for ctx in model.contexts.values():
            res = ctx.resources
            if not isinstance(res, pikepdf.Dictionary):
                continue
            for category in PRUNED_RESOURCES:
                entries = res.get(category)
                if isinstance(entries, pikepdf.Dictionary):
                    unused = set(entries.keys()) - ctx.used.get(category, set())
                    if unused:
                        ctx.unused[category] = unused
        build_text(model)
        flag_private_use(model)
        return model

    # -- the interpreter proper ---------------------------------------------
    def _run(self, model: PageModel, ctx: StreamContext, gs: _GState, depth: int) -> None:
        limits = self.limits
        resources = ctx.resources
        stack: list[_GState] = []
        tm: Matrix = IDENTITY
        tlm: Matrix = IDENTITY
        # The current path, in user space (transformed when painted; cm is not allowed inside a path).
        path: list[list[Point]] = []
        subpath: list[Point] | None = None
        pending_clip: bool | None = None  # None, or the even-odd flag of a pending W / W*
        marked: list[str] = []  # "oc" or "" per open marked-content section
        fonts_here: dict[str, FontInfo | None] = {}
        skip = 0
        instructions = ctx.instructions
        self._ops += len(instructions)
        if self._ops > limits.max_operators_per_page:
            raise UnsupportedFile(f"page {model.page_number} has too many drawing operators")
        for idx, ins in enumerate(instructions):
            if isinstance(ins, pikepdf.ContentStreamInlineImage):
                if skip:
                    ctx.drop.add(idx)
                    continue
                bbox = transform_box(gs.ctm, 0.0, 0.0, 1.0, 1.0)
                model.images.append(ImagePlacement(ctx, idx, None, ins.iimage, gs.ctm, bbox))
                iimage = ins.iimage
                if not getattr(iimage, "image_mask", False) and gs.fill_alpha >= 0.999 and gs.blend_normal:
                    self._cover(model, bbox)
                continue
            op = str(ins.operator)
            if skip:
                ctx.drop.add(idx)
                if op in ("BDC", "BMC"):
                    skip += 1
                elif op == "EMC":
                    skip -= 1
                model.hidden_oc_ops += 1
                continue
            operands = ins.operands
            if op in _TEXT_SHOW:
                if op == "TJ":
                    arr = operands[0] if operands else None
                    if not isinstance(arr, pikepdf.Array):
                        continue
                    for elem, item in enumerate(arr):
                        if isinstance(item, pikepdf.String):
                            tm = self._show(
                                model, ctx, gs, tm=tm, idx=idx, elem=elem, op=op, data=bytes(item)
                            )
                        elif gs.font is not None and gs.font.vertical:
                            # Vertical writing: the number is subtracted from the vertical coordinate.
                            ty = -_f(item) / 1000.0 * gs.tfs
                            tm = (tm[0], tm[1], tm[2], tm[3], tm[4] + ty * tm[2], tm[5] + ty * tm[3])
                        else:
                            adj = _f(item)
                            tx = -adj / 1000.0 * gs.tfs * gs.th
                            tm = (tm[0], tm[1], tm[2], tm[3], tm[4] + tx * tm[0], tm[5] + tx * tm[1])
                    continue
                if op in {"'", '"'}:
                    if op == '"' and len(operands) >= 3:
                        gs.tw = _f(operands[0])
                        gs.tc = _f(operands[1])
                    tlm = (tlm[0], tlm[1], tlm[2], tlm[3], tlm[4] - gs.tl * tlm[2], tlm[5] - gs.tl * tlm[3])
                    tm = tlm
                if operands and isinstance(operands[-1], pikepdf.String):
                    tm = self._show(model, ctx, gs, tm=tm, idx=idx, elem=-1, op=op, data=bytes(operands[-1]))
            elif op in {"Td", "TD"}:
                if len(operands) >= 2:
                    tx, ty = _f(operands[0]), _f(operands[1])
                    if op == "TD":
                        gs.tl = -ty
                    tlm = (
                        tlm[0],
                        tlm[1],
                        tlm[2],
                        tlm[3],
                        tx * tlm[0] + ty * tlm[2] + tlm[4],
                        tx * tlm[1] + ty * tlm[3] + tlm[5],
                    )
                    tm = tlm
            elif op == "Tm":
                m = to_matrix(operands)
                if m is not None:
                    tm = tlm = m
            elif op == "T*":
                tlm = (tlm[0], tlm[1], tlm[2], tlm[3], tlm[4] - gs.tl * tlm[2], tlm[5] - gs.tl * tlm[3])
                tm = tlm
            elif op == "Tf":
                if len(operands) >= 2:
                    # Resources are fixed for one stream: look each font name up once.
                    fname = str(operands[0])
                    ctx.use("/Font", fname)
                    if fname in fonts_here:
                        gs.font = fonts_here[fname]
                    else:
                        gs.font = fonts_here[fname] = self.font(resources, operands[0])
                    gs.tfs = _f(operands[1])
            elif op == "BT":
                tm = tlm = IDENTITY
            elif op == "Tc":
                gs.tc = _f(operands[0]) if operands else 0.0
            elif op == "Tw":
                gs.tw = _f(operands[0]) if operands else 0.0
            elif op == "Tz":
                gs.th = (_f(operands[0], 100.0) if operands else 100.0) / 100.0
            elif op == "TL":
                gs.tl = _f(operands[0]) if operands else 0.0
            elif op == "Ts":
                gs.ts = _f(operands[0]) if operands else 0.0
            elif op == "Tr":
                gs.mode = int(_f(operands[0])) if operands else 0
            elif op == "re":
                if len(operands) >= 4:
                    x, y = _f(operands[0]), _f(operands[1])
                    w, h = _f(operands[2]), _f(operands[3])
                    path.append([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
                    subpath = None
            elif op == "m":
                if len(operands) >= 2:
                    subpath = [(_f(operands[0]), _f(operands[1]))]
                    path.append(subpath)
            elif op == "l":
                if subpath is not None and len(operands) >= 2:
                    subpath.append((_f(operands[0]), _f(operands[1])))
            elif op in ("c", "v", "y"):
                if subpath is not None:
                    p0 = subpath[-1]
                    pts = [(_f(operands[k]), _f(operands[k + 1])) for k in range(0, len(operands) - 1, 2)]
                    if op == "c" and len(pts) >= 3:
                        subpath.extend(_bezier(p0, pts[0], pts[1], pts[2]))
                    elif op == "v" and len(pts) >= 2:
                        subpath.extend(_bezier(p0, p0, pts[0], pts[1]))
                    elif op == "y" and len(pts) >= 2:
                        subpath.extend(_bezier(p0, pts[0], pts[1], pts[1]))
            elif op == "h":
                if subpath is not None:
                    subpath = [subpath[0]]
                    path.append(subpath)
            elif op in ("W", "W*"):
                pending_clip = op == "W*"
            elif op in _PAINT_OPS:
                if path and op in _FILL_OPS and gs.fill_ink != "none" and gs.fill_alpha > 0.0:
                    opaque = gs.fill_ink == "paint" and gs.fill_alpha >= 0.999 and gs.blend_normal
                    shape = make_shape(path, gs.ctm, op.endswith("*"))
                    colour = gs.fill if opaque else None
                    self._add_cover(model, (shape, *gs.clip), colour, opaque=opaque)
                if pending_clip is not None:
                    gs.clip = (*gs.clip, make_shape(path, gs.ctm, pending_clip))
                    pending_clip = None
                path = []
                subpath = None
            elif op == "sh":
                if operands:
                    ctx.use("/Shading", str(operands[0]))
                if gs.fill_alpha >= 0.999 and gs.blend_normal and operands:
                    self._shading(model, resources, operands[0], gs)
            elif op in _COLOUR_OPS:
                if op in ("scn", "SCN") and operands and isinstance(operands[-1], pikepdf.Name):
                    ctx.use("/Pattern", str(operands[-1]))
                self._colour(model, resources, op, operands, gs)
            elif op == "q":
                stack.append(gs.copy())
            elif op == "Q":
                if stack:
                    gs = stack.pop()
                elif ctx.is_page:
                    # An unmatched Q would pop the wrapper we add around the page: drop it.
                    ctx.drop.add(idx)
            elif op == "cm":
                m = to_matrix(operands)
                if m is not None:
                    gs.ctm = mul(m, gs.ctm)
            elif op == "gs":
                if operands:
                    ctx.use("/ExtGState", str(operands[0]))
                self._ext_gstate(model, resources, operands, gs)
            elif op == "Do":
                if operands:
                    self._do(model, ctx, gs, idx=idx, name=str(operands[0]), depth=depth)
            elif op == "BDC":
                if len(operands) >= 2 and isinstance(operands[1], pikepdf.Name):
                    ctx.use("/Properties", str(operands[1]))
                if len(operands) >= 2 and operands[0] == "/OC":
                    props = (
                        resources.get("/Properties") if isinstance(resources, pikepdf.Dictionary) else None
                    )
                    oc = props.get(str(operands[1])) if isinstance(props, pikepdf.Dictionary) else None
                    if self.oc.is_hidden(oc):
                        ctx.drop.add(idx)
                        skip = 1
                        model.hidden_oc_ops += 1
                        continue
                    # Visible layer: keep the content, forget the layer (its name may be sensitive).
                    ctx.replace[idx] = [
                        pikepdf.ContentStreamInstruction([pikepdf.Name("/OC")], pikepdf.Operator("BMC"))
                    ]
                    marked.append("oc")
                    continue
                if len(operands) >= 2 and isinstance(operands[1], pikepdf.Dictionary):
                    props_dict = operands[1]
                    if any(k in props_dict for k in _MARKED_TEXT_KEYS):
                        ctx.marked_text.append(idx)
                elif len(operands) >= 2 and isinstance(operands[1], pikepdf.Name):
                    # A named property list in /Properties: viewers read its /ActualText as page text.
                    props = (
                        resources.get("/Properties") if isinstance(resources, pikepdf.Dictionary) else None
                    )
                    named = props.get(str(operands[1])) if isinstance(props, pikepdf.Dictionary) else None
                    if isinstance(named, pikepdf.Dictionary) and any(k in named for k in _MARKED_TEXT_KEYS):
                        ctx.marked_named.append(named)
                marked.append("")
            elif op == "BMC":
                marked.append("")
            elif op == "DP" and len(operands) >= 2 and isinstance(operands[1], pikepdf.Name):
                ctx.use("/Properties", str(operands[1]))
            elif op == "EMC" and marked:
                marked.pop()
        if ctx.is_page:
            ctx.final_depth = len(stack)

    def _add_cover(
        self, model: PageModel, shapes: tuple[Shape, ...], colour: RGB | None, *, opaque: bool = True
    ) -> None:
        bbox = _intersect([sh.bbox for sh in shapes])
        if bbox is None or any(sh.polys == () for sh in shapes):
            return
        self._order += 1
        model.covers.append(Cover(self._order, bbox, shapes, colour, opaque))

    def _shading(self, model: PageModel, resources: Any, name: Any, gs: _GState) -> None:
        """``sh`` paints the whole clipping region (or the shading's /BBox) opaquely."""
        shadings = resources.get("/Shading") if isinstance(resources, pikepdf.Dictionary) else None
        shading = shadings.get(str(name)) if isinstance(shadings, pikepdf.Dictionary) else None
        if not isinstance(shading, pikepdf.Dictionary | pikepdf.Stream):
            return
        shapes: list[Shape] = [box_shape(model.crop, IDENTITY), *gs.clip]
        bbox = shading.get("/BBox")
        if isinstance(bbox, pikepdf.Array) and len(bbox) == 4:
            vals = [_f(v) for v in bbox]
            shapes.append(box_shape((vals[0], vals[1], vals[2], vals[3]), gs.ctm))
        self._add_cover(model, tuple(shapes), None)

    def _colour_space(self, resources: Any, obj: Any, depth: int = 0) -> ColourSpace:
        if isinstance(obj, pikepdf.Name):
            known = _DEVICE_SPACES.get(str(obj))
            if known is not None:
                return known
            spaces = resources.get("/ColorSpace") if isinstance(resources, pikepdf.Dictionary) else None
            obj = spaces.get(str(obj)) if isinstance(spaces, pikepdf.Dictionary) else None
            if isinstance(obj, pikepdf.Name):
                return _DEVICE_SPACES.get(str(obj), _UNKNOWN)
        if not isinstance(obj, pikepdf.Array) or not len(obj) or depth > 3:
            return _UNKNOWN
        family = str(obj[0])
        if family in _DEVICE_SPACES:
            return _DEVICE_SPACES[family]
        if family == "/ICCBased" and len(obj) >= 2 and isinstance(obj[1], pikepdf.Stream):
            n = int(_f(obj[1].get("/N"), 0))
            return {1: _GRAY, 3: _RGB_CS, 4: _CMYK}.get(n, _UNKNOWN)
        if family == "/Lab":
            return ("lab", 3, None)
        if family in ("/Separation", "/DeviceN") and len(obj) >= 2:
            names = list(obj[1]) if isinstance(obj[1], pikepdf.Array) else [obj[1]]
            if names and all(str(n) == "/None" for n in names):
                return ("none", len(names), None)
            return ("spot", len(names), None)
        if family in ("/Indexed", "/I") and len(obj) >= 4:
            base = self._colour_space(resources, obj[1], depth + 1)
            lookup = obj[3]
            if isinstance(lookup, pikepdf.Stream):
                check_stream_size(lookup, self.limits)
                data = bytes(lookup.read_bytes())
            elif isinstance(lookup, pikepdf.String):
                data = bytes(lookup)
            else:
                return _UNKNOWN
            hival = int(min(max(_f(obj[2], 0), 0), 255))
            return ("indexed", 1, (base, hival, data[: (hival + 1) * max(base[1], 1)]))
        if family == "/Pattern":
            return _PATTERN
        return _UNKNOWN

    def _colour(self, model: PageModel, resources: Any, op: str, operands: Any, gs: _GState) -> None:
        stroke = op.isupper()
        low = op.lower()
        if low in ("g", "rg", "k"):
            cs = {"g": _GRAY, "rg": _RGB_CS, "k": _CMYK}[low]
            colour = colour_to_rgb(cs, [_f(v) for v in operands])
            ink = "paint"
        elif low == "cs":
            cs = self._colour_space(resources, operands[0]) if operands else _UNKNOWN
            # Initial colours (PDF 32000 8.6.8): black in device-like spaces, index 0, full
            # tint (1.0) for Separation/DeviceN, and "paint nothing" for a pattern space.
            if cs[0] == "spot":
                colour = colour_to_rgb(cs, [1.0] * cs[1])
            elif cs[0] == "indexed":
                colour = colour_to_rgb(cs, [0.0])
            else:
                colour = colour_to_rgb(cs, list(_INITIAL_COLOUR.get(cs[0], ())))
            ink = {"none": "none", "pattern": "sparse"}.get(cs[0], "paint")
        else:  # sc, scn
            cs = gs.stroke_cs if stroke else gs.fill_cs
            ink = "none" if cs[0] == "none" else "paint"
            if cs[0] == "pattern":
                colour = None
                ink = self._pattern_ink(model, resources, operands[-1] if operands else None)
            else:
                colour = colour_to_rgb(cs, [_f(v) for v in operands if not isinstance(v, pikepdf.Name)])
        if stroke:
            gs.stroke_cs, gs.stroke = cs, colour
        else:
            gs.fill_cs, gs.fill, gs.fill_ink = cs, colour, ink

    def _pattern_ink(self, model: PageModel, resources: Any, name: Any) -> str:
        """Shading patterns paint opaquely; tiling patterns may leave gaps."""
        patterns = resources.get("/Pattern") if isinstance(resources, pikepdf.Dictionary) else None
        pattern = patterns.get(str(name)) if isinstance(patterns, pikepdf.Dictionary) else None
        if isinstance(pattern, pikepdf.Dictionary | pikepdf.Stream) and pattern.get("/PatternType") == 2:
            return "paint"
        if isinstance(pattern, pikepdf.Stream):
            self._no_text_inside(model, pattern, "a tiling pattern")
        return "sparse"

    def _no_text_inside(self, model: PageModel, stream: pikepdf.Stream, what: str) -> None:
        """Fail the page when ``stream`` (a pattern cell or soft-mask group) shows text.

        The interpreter does not walk these streams, so their text is not in the page
        text ``find`` sees; rather than leave it unread, the page fails closed.
        """
        key = stream.objgen
        verdict = self._textless.get(key) if key != (0, 0) else None
        if verdict is None:
            check_stream_size(stream, self.limits)
            ops = parse_stream_instructions(stream, self.limits)
            verdict = not any(
                not isinstance(i, pikepdf.ContentStreamInlineImage) and str(i.operator) in _TEXT_SHOW
                for i in ops
            )
            if key != (0, 0):
                self._textless[key] = verdict
        if not verdict:
            model.unmappable += 1
            model.problems.append(f"{what} draws text, which is not supported")

    def _cover(self, model: PageModel, bbox: Box) -> None:
        crop = model.crop
        w = min(bbox[2], crop[2]) - max(bbox[0], crop[0])
        h = min(bbox[3], crop[3]) - max(bbox[1], crop[1])
        crop_area = max((crop[2] - crop[0]) * (crop[3] - crop[1]), 1e-9)
        large = w > 0 and h > 0 and w * h >= 0.5 * crop_area
        self._order += 1
        model.image_covers.append((self._order, bbox, large))

    def _ext_gstate(self, model: PageModel, resources: Any, operands: Any, gs: _GState) -> None:
        if not operands or not isinstance(resources, pikepdf.Dictionary):
            return
        states = resources.get("/ExtGState")
        state = states.get(str(operands[0])) if isinstance(states, pikepdf.Dictionary) else None
        if not isinstance(state, pikepdf.Dictionary):
            return
        if "/ca" in state:
            gs.fill_alpha = _f(state.get("/ca"), 1.0)
        if "/CA" in state:
            gs.stroke_alpha = _f(state.get("/CA"), 1.0)
        if "/BM" in state:
            bm = state.get("/BM")
            if isinstance(bm, pikepdf.Array):
                bm = bm[0] if len(bm) else pikepdf.Name("/Normal")
            gs.blend_normal = str(bm) in _NORMAL_BLEND
        if "/SMask" in state:
            smask = state.get("/SMask")
            gs.blend_normal = gs.blend_normal and smask == "/None"
            group = smask.get("/G") if isinstance(smask, pikepdf.Dictionary) else None
            if isinstance(group, pikepdf.Stream):
                self._no_text_inside(model, group, "a soft mask")
        font = state.get("/Font")
        if isinstance(font, pikepdf.Array) and len(font) == 2:
            fobj = font[0]
            if isinstance(fobj, pikepdf.Dictionary):
                gs.font = self.fonts.get(fobj.objgen) or load_font(fobj, self.limits)
                gs.tfs = _f(font[1])

    def _do(
        self, model: PageModel, ctx: StreamContext, gs: _GState, *, idx: int, name: str, depth: int
    ) -> None:
        resources = ctx.resources
        ctx.use("/XObject", name)
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        xobj = xobjects.get(name) if isinstance(xobjects, pikepdf.Dictionary) else None
        if not isinstance(xobj, pikepdf.Stream):
            return
        if self.oc.is_hidden(xobj.get("/OC")):
            ctx.drop.add(idx)
            model.hidden_oc_ops += 1
            return
        subtype = xobj.get("/Subtype")
        if subtype == "/Image":
            bbox = transform_box(gs.ctm, 0.0, 0.0, 1.0, 1.0)
            model.images.append(ImagePlacement(ctx, idx, name, xobj, gs.ctm, bbox))
            opaque = not any(k in xobj for k in ("/SMask", "/Mask", "/SMaskInData")) and not xobj.get(
                "/ImageMask"
            )
            if opaque and gs.fill_alpha >= 0.999 and gs.blend_normal:
                self._cover(model, bbox)
            return
        if subtype != "/Form":
            return
        key = ("form", xobj.objgen)
        if depth + 1 > self.limits.max_nesting_depth:
            raise UnsupportedFile(f"page {model.page_number} nests form XObjects too deeply")
        if key in self._stack:
            raise UnsupportedFile(f"page {model.page_number} has a form XObject that draws itself")
        child = model.contexts.get(key)
        if child is None:
            check_stream_size(xobj, self.limits)
            instructions = parse_stream_instructions(xobj, self.limits)
            form_res = xobj.get("/Resources")
            child = StreamContext(
                key, xobj, instructions, form_res if form_res is not None else resources, is_page=False
            )
            model.contexts[key] = child
        ctx.children[name] = child
        inner = gs.copy()
        matrix = to_matrix(xobj.get("/Matrix", [1, 0, 0, 1, 0, 0])) or IDENTITY
        inner.ctm = mul(matrix, gs.ctm)
        form_bbox = xobj.get("/BBox")
        if isinstance(form_bbox, pikepdf.Array) and len(form_bbox) == 4:
            # A form is clipped to its /BBox: text outside it is never shown.
            vals = [_f(v) for v in form_bbox]
            inner.clip = (*gs.clip, box_shape((vals[0], vals[1], vals[2], vals[3]), inner.ctm))
        self._stack.append(key)
        try:
            self._run(model, child, inner, depth + 1)
        finally:
            self._stack.pop()

    def _show(
        self,
        model: PageModel,
        ctx: StreamContext,
        gs: _GState,
        *,
        tm: Matrix,
        idx: int,
        elem: int,
        op: str,
        data: bytes,
    ) -> Matrix:
        font = gs.font
        if font is None:
            if data:
                model.unmappable += len(data)
                model.problems.append("text drawn without a usable font")
            return tm
        codes, offsets = font.split(data)
        if not codes:
            return tm
        if font.problem is not None:
            texts: list[str | None] = [None] * len(codes)
            model.problems.append(f"a {font.kind} font: {font.problem}")
        else:
            texts = font.texts(codes)
        bad = texts.count(None)
        if bad:
            model.unmappable += bad
            if font.problem is None:
                model.problems.append(f"a {font.kind} font has glyphs with no known text")
        widths = font.widths(codes)
        if font.vertical:
            return self._show_vertical(
                model,
                ctx,
                gs,
                tm=tm,
                idx=idx,
                elem=elem,
                op=op,
                codes=codes,
                offsets=offsets,
                texts=texts,
                widths=widths,
            )
        tfs, tc, tw, th = gs.tfs, gs.tc, gs.tw, gs.th
        scale = tfs / 1000.0
        if tw and (font.code_len == 1 or (font.code_len == 0 and offsets is not None)):
            if offsets is None:
                adv = [
                    (w * scale + tc + (tw if c == 32 else 0.0)) * th
                    for w, c in zip(widths, codes, strict=True)
                ]
            else:
                adv = [
                    (w * scale + tc + (tw if c == 32 and offsets[k + 1] - offsets[k] == 1 else 0.0)) * th
                    for k, (w, c) in enumerate(zip(widths, codes, strict=True))
                ]
        elif tc:
            adv = [(w * scale + tc) * th for w in widths]
        else:
            adv = None
        gsc = scale * th
        gw = [w * gsc for w in widths]
        if adv is None:
            adv = gw  # no character spacing: advance == glyph width (shared, never mutated)
        xs = list(accumulate(adv, initial=0.0))
        total = xs[-1]
        m = mul(tm, gs.ctm)
        rise = gs.ts
        size = abs(tfs) * math.hypot(m[2], m[3])
        mode = gs.mode
        invisible = _invisibility(gs, font, m)
        self._order += 1
        run = Run(
            ctx=ctx,
            instr=idx,
            elem=elem,
            op=op,
            font=font,
            codes=codes,
            offsets=offsets,
            texts=texts,
            xs=xs,
            gw=gw,
            m=m,
            y0=rise + font.descent * scale,
            y1=rise + font.ascent * scale,
            size=size,
            mode=mode,
            order=self._order,
            tfs_th=tfs * th,
            fill=gs.fill if mode in (0, 2, 4, 6) else None,
            stroke=gs.stroke if mode in (1, 2, 5, 6) else None,
            clip=gs.clip,
            invisible=invisible,
        )
        model.runs.append(run)
        key = (idx, elem)
        proto = ctx.proto.get(key)
        if proto is None:
            ctx.proto[key] = run
        elif proto.xs != xs:
            ctx.inconsistent = True
        return (tm[0], tm[1], tm[2], tm[3], tm[4] + total * tm[0], tm[5] + total * tm[1])

    def _show_vertical(
        self,
        model: PageModel,
        ctx: StreamContext,
        gs: _GState,
        *,
        tm: Matrix,
        idx: int,
        elem: int,
        op: str,
        codes: list[int],
        offsets: list[int] | None,
        texts: list[str | None],
        widths: list[float],
    ) -> Matrix:
        """A run in vertical writing, laid out in its own frame: ``u`` down the column, ``v`` across.

        The run's matrix maps (u, v) to the page through text space (x = v, y = -u), so
        ``xs``/``gw`` measure along the column exactly as they measure along the line for
        horizontal runs, and boxes, centres and the rewriter's TJ numbers need no other case.
        Each glyph's cell is its vertical advance (``-w1y``), starting at its vertical
        origin; across, it spans its horizontal width hung from the position vector's
        ``v1x``. TJ numbers move *down* in vertical writing, hence the negated ``tfs_th``.
        """
        font = gs.font
        assert font is not None  # noqa: S101  (checked by the caller)
        metrics = font.vmetrics(codes, widths)
        tfs, tc, tw, th = gs.tfs, gs.tc, gs.tw, gs.th
        scale = tfs / 1000.0
        gw = [-w1y * scale for w1y, _, _ in metrics]
        if tc or tw:
            # Word spacing applies to the single-byte code 32 only, in either writing mode.
            adv = [
                g + tc + (tw if c == 32 and (offsets is None or offsets[k + 1] - offsets[k] == 1) else 0.0)
                for k, (g, c) in enumerate(zip(gw, codes, strict=True))
            ]
        else:
            adv = gw
        xs = list(accumulate(adv, initial=0.0))
        total = xs[-1]
        across = scale * th
        lows = [-v1x * across for _, v1x, _ in metrics]
        highs = [(w0 - v1x) * across for w0, (_, v1x, _) in zip(widths, metrics, strict=True)]
        text_m = mul(tm, gs.ctm)
        size = abs(tfs) * math.hypot(text_m[2], text_m[3])
        # Rise moves the glyphs up in text space, which is back up the column.
        m = mul(_VERTICAL_FRAME, mul((1.0, 0.0, 0.0, 1.0, 0.0, gs.ts), text_m))
        mode = gs.mode
        self._order += 1
        run = Run(
            ctx=ctx,
            instr=idx,
            elem=elem,
            op=op,
            font=font,
            codes=codes,
            offsets=offsets,
            texts=texts,
            xs=xs,
            gw=gw,
            m=m,
            y0=min(lows),
            y1=max(highs),
            size=size,
            mode=mode,
            order=self._order,
            tfs_th=-tfs,
            fill=gs.fill if mode in (0, 2, 4, 6) else None,
            stroke=gs.stroke if mode in (1, 2, 5, 6) else None,
            clip=gs.clip,
            invisible=_invisibility(gs, font, text_m),
        )
        model.runs.append(run)
        key = (idx, elem)
        proto = ctx.proto.get(key)
        if proto is None:
            ctx.proto[key] = run
        elif proto.xs != xs:
            ctx.inconsistent = True
        return (tm[0], tm[1], tm[2], tm[3], tm[4] - total * tm[2], tm[5] - total * tm[3])


#: From a vertical run's (u down the column, v across) frame to text space: x = v, y = -u.
_VERTICAL_FRAME: Matrix = (0.0, -1.0, 1.0, 0.0, 0.0, 0.0)


def _invisibility(gs: _GState, font: FontInfo, m: Matrix) -> str | None:
    """Why every glyph a text-showing operator paints is invisible, or None (``m``: text space → page)."""
    mode = gs.mode
    if mode in (3, 7):
        return None
    fills = mode in (0, 2, 4, 6)
    strokes = mode in (1, 2, 5, 6)
    if (not fills or gs.fill_alpha < 0.02 or gs.fill_ink == "none") and (
        not strokes or gs.stroke_alpha < 0.02 or gs.stroke_cs[0] == "none"
    ):
        return "no_ink" if gs.fill_ink == "none" or gs.stroke_cs[0] == "none" else "transparent"
    size = abs(gs.tfs) * math.hypot(m[2], m[3])
    if font.kind != "type3" and (  # Type3 glyph sizes depend on their FontMatrix
        size < TINY_TEXT or abs(gs.tfs * gs.th) * math.hypot(m[0], m[1]) < TINY_TEXT
    ):
        return "tiny"
    return None


def build_text(model: PageModel) -> None:
    """Join runs into page text: content order, spaces at gaps, newlines at line changes."""
    parts: list[str] = []
    starts: list[int] = []
    text_runs: list[Run] = []
    pos = 0
    prev: Run | None = None
    prev_end = (0.0, 0.0)
    for run in model.runs:
        texts = run.texts
        text = "".join(t if t is not None else "\ufffd" for t in texts) if None in texts else "".join(texts)  # type: ignore[arg-type]
        if not text:
            continue
        if len(text) != len(texts):
            cg: list[int] = []
            for gi, t in enumerate(texts):
                cg.extend([gi] * (1 if t is None else len(t)))
            run.char_glyph = cg
        sx, sy = apply(run.m, 0.0, 0.0)
        if prev is not None:
            m = prev.m
            norm = math.hypot(m[0], m[1]) or 1.0
            ux, uy = m[0] / norm, m[1] / norm
            dx, dy = sx - prev_end[0], sy - prev_end[1]
            along = dx * ux + dy * uy
            perp = -dx * uy + dy * ux
            height = max(prev.size, run.size, 0.1)
            sep = ""
            if abs(perp) > 0.5 * height or along < -0.5 * height:
                sep = "\n"
            elif along > 0.15 * height and not parts[-1].endswith(" ") and not text.startswith(" "):
                sep = " "
            if sep:
                parts.append(sep)
                pos += 1
        run.text = text
        run.text_start = pos
        starts.append(pos)
        text_runs.append(run)
        parts.append(text)
        pos += len(text)
        prev = run
        prev_end = apply(run.m, run.xs[-1], 0.0)
    model.text = "".join(parts)
    model.run_starts = starts
    model.text_runs = text_runs


#: Code points no font should claim for ordinary text: C0/C1 controls (tab and line
#: breaks aside), the Private Use Areas, noncharacters; unassigned ones are checked apart.
_ODD_CODE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufdd0-\ufdef\U000f0000-\U0010ffff]")
_UNCOMMON = re.compile("[^\x20-\x7e\xa0-\u024f\ufffd]")
#: A font whose glyphs on a page map to at least this many odd code points, of at
#: least :data:`ODD_DISTINCT` different ones, making up half its characters there, says
#: nothing of what it shows. (A symbol font drawing one kind of bullet in the Private
#: Use Area, as Word's Symbol font does, stays under it.)
ODD_GLYPHS = 4
ODD_DISTINCT = 3
ODD_REASON = "a font maps its glyphs to private-use, control or unassigned code points"


def _odd_chars(text: str) -> list[str]:
    odd = _ODD_CODE.findall(text)
    for ch in _UNCOMMON.findall(text):
        if not _ODD_CODE.match(ch) and unicodedata.category(ch) == "Cn":
            odd.append(ch)
    return odd


def flag_private_use(model: PageModel) -> None:
    """Count as unmappable the glyphs of a font whose text layer is mostly odd code points.

    Such text (producers' private mappings, garbage subsets) is no text a detector
    can read, while the page shows letters: the page is treated like one whose
    glyphs cannot be mapped (rendered and read by OCR), without any OCR here.
    """
    odd: dict[int, list[str]] = {}
    total: dict[int, int] = {}
    for run in model.text_runs:
        text = run.text
        if _ODD_CODE.search(text) is None and _UNCOMMON.search(text) is None:
            continue
        found = _odd_chars(text)
        if found:
            key = id(run.font)
            odd.setdefault(key, []).extend(found)
            total[key] = total.get(key, 0) + len(text) - text.count(" ")
    if not odd:
        return
    # Totals include runs of the same font without odd characters.
    for run in model.text_runs:
        key = id(run.font)
        if key in odd and not _odd_chars(run.text):
            total[key] += len(run.text) - run.text.count(" ")
    for key, chars in odd.items():
        if len(chars) >= ODD_GLYPHS and len(set(chars)) >= ODD_DISTINCT and 2 * len(chars) >= total[key]:
            model.unmappable += len(chars)
            model.problems.append(ODD_REASON)
