"""A content-stream interpreter that knows where every glyph came from.

For one page it walks the page's content streams and, recursively, the Form
XObjects they paint (annotation appearances are flattened into forms before
this runs), keeping the graphics and text state the PDF specification
defines. It records:

* one :class:`Run` per string operand of ``Tj``, ``TJ``, ``'`` and ``"``: the
  glyph codes, their Unicode text (``None`` when unmappable), their positions
  in text space and the matrix from text space to the page. A run knows the
  content stream, instruction and array element it came from, which is what
  lets the rewriter remove exactly those glyphs;
* opaque filled rectangles (fill alpha 1, normal blend) with their painting
  order, to find text hidden under a box;
* image placements (XObject and inline) with their matrices, for repainting
  pixels under redaction boxes;
* optional-content sections hidden by default, which are dropped entirely
  (the sanitisation profile removes hidden layers rather than exposing them).

Invariants: nothing here writes to the PDF. Each Form XObject gets one
:class:`StreamContext` per page, shared by all its uses on that page, so a
removal inside a form is applied once to a page-private copy of that form.
Threat assumptions: operands may be of the wrong type or missing (skipped),
forms may reference themselves (rejected), streams may be bombs (bounded).
"""

from __future__ import annotations

import math
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
_PATH_OPS = frozenset({"m", "l", "c", "v", "y", "h"})
_TEXT_SHOW = frozenset({"Tj", "TJ", "'", '"'})
_NORMAL_BLEND = frozenset({"/Normal", "/Compatible"})


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
    pts = (apply(m, x0, y0), apply(m, x1, y0), apply(m, x0, y1), apply(m, x1, y1))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))


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
    #: BDC instructions carrying /ActualText, /Alt or /E in an inline dictionary.
    marked_text: list[int] = field(default_factory=list)
    final_depth: int = 0
    #: set when the same form shows text under different text states on one page.
    inconsistent: bool = False

    def changed(self) -> bool:
        return bool(self.drop or self.replace or self.removed)


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
    tfs_th: float
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
    rects: list[tuple[int, Box]] = field(default_factory=list)
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
    __slots__ = ("blend_normal", "ctm", "fill_alpha", "font", "mode", "tc", "tfs", "th", "tl", "ts", "tw")

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
        self.blend_normal = True

    def copy(self) -> _GState:
        g = _GState.__new__(_GState)
        g.ctm = self.ctm
        g.font = self.font
        g.tfs = self.tfs
        g.tc = self.tc
        g.tw = self.tw
        g.th = self.th
        g.tl = self.tl
        g.ts = self.ts
        g.mode = self.mode
        g.fill_alpha = self.fill_alpha
        g.blend_normal = self.blend_normal
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


def _close_quad(
    pts: list[tuple[float, float]] | None, rects: list[tuple[float, float, float, float]]
) -> None:
    """Add ``pts`` to ``rects`` when it is an axis-aligned rectangle (4 corners, optionally closed)."""
    if not pts:
        return
    if len(pts) == 5 and pts[4] == pts[0]:
        pts = pts[:4]
    if len(pts) != 4:
        return
    xs = sorted({round(p[0], 3) for p in pts})
    ys = sorted({round(p[1], 3) for p in pts})
    if len(xs) != 2 or len(ys) != 2:
        return
    corners = {(round(p[0], 3), round(p[1], 3)) for p in pts}
    if len(corners) == 4:
        rects.append((xs[0], ys[0], xs[1] - xs[0], ys[1] - ys[0]))


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
        build_text(model)
        return model

    # -- the interpreter proper ---------------------------------------------
    def _run(self, model: PageModel, ctx: StreamContext, gs: _GState, depth: int) -> None:
        limits = self.limits
        resources = ctx.resources
        stack: list[_GState] = []
        tm: Matrix = IDENTITY
        tlm: Matrix = IDENTITY
        rects: list[tuple[float, float, float, float]] = []
        # Points of the current subpath built from m/l; a closed axis-aligned quad counts as a box.
        subpath: list[tuple[float, float]] | None = None
        marked: list[str] = []  # "oc" or "" per open marked-content section
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
                    gs.font = self.font(resources, operands[0])
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
                    rects.append((_f(operands[0]), _f(operands[1]), _f(operands[2]), _f(operands[3])))
            elif op == "m":
                _close_quad(subpath, rects)
                subpath = [(_f(operands[0]), _f(operands[1]))] if len(operands) >= 2 else None
            elif op == "l":
                if subpath is not None and len(operands) >= 2:
                    subpath.append((_f(operands[0]), _f(operands[1])))
            elif op == "h":
                _close_quad(subpath, rects)
                subpath = None
            elif op in ("c", "v", "y"):
                subpath = None  # curves: not a box
            elif op in _PAINT_OPS:
                _close_quad(subpath, rects)
                subpath = None
                if op in _FILL_OPS and rects and gs.fill_alpha >= 0.999 and gs.blend_normal:
                    for x, y, w, h in rects:
                        box = transform_box(gs.ctm, x, y, x + w, y + h)
                        if box[2] - box[0] > 0.5 and box[3] - box[1] > 0.5:
                            self._order += 1
                            model.rects.append((self._order, box))
                rects = []
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
                self._ext_gstate(resources, operands, gs)
            elif op == "Do":
                if operands:
                    self._do(model, ctx, gs, idx=idx, name=str(operands[0]), depth=depth)
            elif op == "BDC":
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
                    if any(k in props_dict for k in ("/ActualText", "/Alt", "/E")):
                        ctx.marked_text.append(idx)
                marked.append("")
            elif op == "BMC":
                marked.append("")
            elif op == "EMC":
                if marked:
                    marked.pop()
            elif op in _PATH_OPS:
                pass
        if ctx.is_page:
            ctx.final_depth = len(stack)

    def _cover(self, model: PageModel, bbox: Box) -> None:
        crop = model.crop
        w = min(bbox[2], crop[2]) - max(bbox[0], crop[0])
        h = min(bbox[3], crop[3]) - max(bbox[1], crop[1])
        crop_area = max((crop[2] - crop[0]) * (crop[3] - crop[1]), 1e-9)
        large = w > 0 and h > 0 and w * h >= 0.5 * crop_area
        self._order += 1
        model.image_covers.append((self._order, bbox, large))

    def _ext_gstate(self, resources: Any, operands: Any, gs: _GState) -> None:
        if not operands or not isinstance(resources, pikepdf.Dictionary):
            return
        states = resources.get("/ExtGState")
        state = states.get(str(operands[0])) if isinstance(states, pikepdf.Dictionary) else None
        if not isinstance(state, pikepdf.Dictionary):
            return
        if "/ca" in state:
            gs.fill_alpha = _f(state.get("/ca"), 1.0)
        if "/BM" in state:
            bm = state.get("/BM")
            if isinstance(bm, pikepdf.Array):
                bm = bm[0] if len(bm) else pikepdf.Name("/Normal")
            gs.blend_normal = str(bm) in _NORMAL_BLEND
        if "/SMask" in state:
            gs.blend_normal = gs.blend_normal and state.get("/SMask") == "/None"
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
        if font.vertical:
            model.problems.append(f"a {font.kind} font uses vertical writing, which is not supported")
            texts = [None] * len(codes)
        bad = texts.count(None)
        if bad:
            model.unmappable += bad
            if font.problem is None and not font.vertical:
                model.problems.append(f"a {font.kind} font has glyphs with no known text")
        widths = font.widths(codes)
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
            mode=gs.mode,
            order=self._order,
            tfs_th=tfs * th,
        )
        model.runs.append(run)
        key = (idx, elem)
        proto = ctx.proto.get(key)
        if proto is None:
            ctx.proto[key] = run
        elif proto.xs != xs:
            ctx.inconsistent = True
        return (tm[0], tm[1], tm[2], tm[3], tm[4] + total * tm[0], tm[5] + total * tm[1])


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
