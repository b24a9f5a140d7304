"""Applying redactions to one page: glyph removal, boxes, image repainting.

Invariants:

* A removed glyph is replaced, inside its own ``TJ`` array, by a kerning
  number equal to its exact advance, so every glyph after it keeps its
  position; ``Tj``, ``'`` and ``"`` become ``TJ`` (plus ``T*``/``Tw``/``Tc``
  where those operators implied them). No other instruction is touched.
* Glyphs are removed from page-private copies of Form XObjects and images;
  objects shared with other pages are never modified.
* A glyph that is partly inside a span is removed whole (ligatures).
* Text a viewer does not show is removed, whether or not it matched a
  finding: text under an opaque paint drawn after it (rectangle, any filled
  path, shading, image), placed outside the visible page, clipped away, in the
  colour of what lies behind it (white on the white page, blue on a blue box),
  transparent, in a no-ink colourant, too small to see (under 1 pt, or
  squeezed by ``Tz``), or invisible (render mode 3/7) away from any image.
  Unmatched hidden glyphs are reported (``hidden_text_unmatched``, with
  ``hidden_text_kinds`` and a warning) — never left in place, because hidden
  text is the classic failed redaction and a covert channel. Glyphs that were
  never visible get no box; glyphs under paint keep the existing box rule.
* Resources no operator of a stream names (XObjects, fonts, graphics
  states, patterns, shadings, property lists) are dropped from the page's
  (private) resources: unseen, they are a hiding place for text and pictures.
* Image pixels under a redaction box are painted black in the image data
  itself; an image that cannot be decoded and repainted fails the page.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pikepdf

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.pdf import _std14
from exchange.domain.redaction.pdf.fonts import bisect_offsets, std14_widths
from exchange.domain.redaction.pdf.images import (
    CannotRead,
    ImageUse,
    PagePixels,
    decode_drawn,
    page_images,
    painted_stream,
    placeholder_stream,
)
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.textmodel import (
    RGB,
    WHITE,
    Box,
    Cover,
    ImagePlacement,
    Matrix,
    PageModel,
    Run,
    StreamContext,
    same_colour,
)

Finder = Callable[[str], Sequence[Redaction]]
_BOX_PAD = 0.4
_LABEL_FONT_NAME = "/RedactionLabel"
DEFAULT_STRING_LABEL = "[REDACTED]"


@dataclass(slots=True)
class PageOutcome:
    page: int
    counts: Counter[str] = field(default_factory=Counter)
    glyphs_removed: int = 0
    hidden_matched: int = 0
    hidden_unmatched: int = 0
    #: hidden glyphs by how they were hidden (``HiddenText.kinds``).
    hidden_kinds: Counter[str] = field(default_factory=Counter)
    offpage_removed: int = 0
    images_repainted: int = 0
    #: images replaced by a placeholder (rule "remove", or pixels that cannot be decoded)
    images_replaced: int = 0
    boxes: list[tuple[Box, str | None]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    marked_content_redacted: int = 0
    unused_resources_removed: int = 0


def redact_string(text: str, find: Finder) -> tuple[str, Counter[str]]:
    """Redact a text string (bookmark title, annotation contents, /Alt ...)."""
    counts: Counter[str] = Counter()
    if not text.strip():
        return text, counts
    spans = merge_redactions(r for r in find(text) if 0 <= r.start < r.end <= len(text))
    if not spans:
        return text, counts
    out: list[str] = []
    pos = 0
    for span in spans:
        out.append(text[pos : span.start])
        out.append(span.replacement or DEFAULT_STRING_LABEL)
        counts[span.entity_type] += 1
        pos = span.end
    out.append(text[pos:])
    return "".join(out), counts


# -- mapping spans to glyphs ---------------------------------------------------
def _glyphs_for(run: Run, lo: int, hi: int) -> range | set[int]:
    """Glyph indices of ``run`` covering characters [lo, hi) of the run's text."""
    if run.char_glyph is None:
        return range(lo, hi)
    return set(run.char_glyph[lo:hi])


def map_spans(model: PageModel, spans: Sequence[Redaction]) -> dict[Run, set[int]]:
    removed: dict[Run, set[int]] = {}
    starts = model.run_starts
    runs = model.text_runs
    for span in spans:
        k = max(bisect_offsets(starts, span.start), 0)
        while k < len(runs) and runs[k].text_start < span.end:
            run = runs[k]
            lo = max(span.start, run.text_start) - run.text_start
            hi = min(span.end, run.text_start + len(run.text)) - run.text_start
            if hi > lo:
                removed.setdefault(run, set()).update(_glyphs_for(run, lo, hi))
            k += 1
    return removed


def _inside(pt: tuple[float, float], box: Box, tol: float = 0.0) -> bool:
    return box[0] - tol <= pt[0] <= box[2] + tol and box[1] - tol <= pt[1] <= box[3] + tol


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass(slots=True)
class HiddenText:
    """Glyphs a viewer does not show, by how they are hidden (see the module docstring)."""

    #: under an opaque paint (fill, shading, image) drawn after them.
    under: dict[Run, set[int]] = field(default_factory=dict)
    #: outside the visible page.
    offpage: dict[Run, set[int]] = field(default_factory=dict)
    #: drawn invisibly: clipped away, same colour as what is behind, tiny, transparent, no ink.
    invisible: dict[Run, set[int]] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.under or self.offpage or self.invisible)

    def _add(self, where: dict[Run, set[int]], run: Run, glyphs: Iterable[int], kind: str) -> None:
        target = where.setdefault(run, set())
        before = len(target)
        target.update(glyphs)
        self.kinds[kind] += len(target) - before


def _colour_hidden(run: Run, i: int, backdrops: list[Cover], images: list[Box]) -> bool:
    """True when glyph ``i`` has the colour of whatever lies behind it (the page is white)."""
    x, y = run.center(i)
    if any(_inside((x, y), b) for b in images):
        return False  # over an image: the backdrop colour is unknown
    bg: RGB | None = WHITE
    top = -1
    for cover in backdrops:
        if cover.order > top and cover.contains(x, y):
            top = cover.order
            bg = cover.colour
    if bg is None:
        return False
    paints = [c for c in (run.fill, run.stroke) if c is not None]
    return all(same_colour(c, bg) for c in paints)


def hidden_glyphs(model: PageModel) -> HiddenText:
    """Glyphs a viewer would not show; each is removed (see ``plan_page``)."""
    hidden = HiddenText()
    crop = model.crop
    image_boxes = [p.bbox for p in model.images]
    # Colours something on the page is painted in: text in none of them (nor white) cannot
    # match its backdrop, which spares the per-glyph backdrop search on ordinary pages.
    backdrop_colours = {WHITE} | {c.colour for c in model.covers if c.colour is not None}
    for run in model.runs:
        n = len(run.codes)
        if not n:
            continue
        run_box = run.glyph_box(0, n - 1)
        if not _overlaps(run_box, crop) or not (
            crop[0] <= run_box[0]
            and run_box[2] <= crop[2]
            and crop[1] <= run_box[1]
            and run_box[3] <= crop[3]
        ):
            hidden._add(
                hidden.offpage, run, (i for i in range(n) if not _inside(run.center(i), crop, 1.0)), "offpage"
            )
        covers: list[tuple[int, Box, Cover | None]] = [
            (c.order, c.bbox, c) for c in model.covers if c.opaque and c.order > run.order
        ]
        # A page-sized scan over an invisible OCR layer is the normal OCR layout, not hiding.
        covers += [
            (o, r, None)
            for o, r, large in model.image_covers
            if o > run.order and not (large and run.mode in (3, 7))
        ]
        for _, rect, cover in covers:
            if not _overlaps(run_box, rect):
                continue
            glyphs = [
                i
                for i in range(n)
                if _inside(run.center(i), rect) and (cover is None or cover.contains(*run.center(i)))
            ]
            if glyphs:
                hidden._add(hidden.under, run, glyphs, "under_paint")
        _invisible_glyphs(
            model,
            run,
            run_box=run_box,
            image_boxes=image_boxes,
            backdrop_colours=backdrop_colours,
            hidden=hidden,
        )
    return hidden


def _invisible_glyphs(
    model: PageModel,
    run: Run,
    *,
    run_box: Box,
    image_boxes: list[Box],
    backdrop_colours: set[RGB],
    hidden: HiddenText,
) -> None:
    n = len(run.codes)
    if run.invisible is not None:
        hidden._add(hidden.invisible, run, range(n), run.invisible)
        return
    if run.mode in (3, 7):
        # Invisible text is an OCR layer only where it lies over a picture.
        if not any(_overlaps(run_box, b) for b in image_boxes):
            hidden._add(hidden.invisible, run, range(n), "invisible_mode")
        return
    for shape in run.clip:
        b = shape.bbox
        if (
            shape.polys is None
            and b[0] <= run_box[0]
            and run_box[2] <= b[2]
            and b[1] <= run_box[1]
            and run_box[3] <= b[3]
        ):
            continue
        clipped = [i for i in range(n) if not shape.contains(*run.center(i))]
        if clipped:
            hidden._add(hidden.invisible, run, clipped, "clipped")
    needs_fill = run.mode in (0, 2, 4, 6)
    needs_stroke = run.mode in (1, 2, 5, 6)
    if (needs_fill and run.fill is None) or (needs_stroke and run.stroke is None) or run.font.kind == "type3":
        return  # colour unknown (patterns, spot colours) or set by the glyphs themselves
    paints = [c for c in (run.fill, run.stroke) if c is not None]
    if not all(any(same_colour(p, bg) for bg in backdrop_colours) for p in paints):
        return
    backdrops = [c for c in model.covers if c.order < run.order and _overlaps(c.bbox, run_box)]
    images = [b for b in image_boxes if _overlaps(b, run_box)]
    if not backdrops and not images:
        if all(same_colour(c, WHITE) for c in paints):
            hidden._add(hidden.invisible, run, range(n), "same_colour")
        return
    same = [i for i in range(n) if _colour_hidden(run, i, backdrops, images)]
    if same:
        hidden._add(hidden.invisible, run, same, "same_colour")


def _groups(indices: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in sorted(indices):
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def _merge_boxes(boxes: list[Box]) -> list[Box]:
    boxes = sorted(boxes, key=lambda b: (round(b[1], 1), b[0]))
    merged: list[Box] = []
    for box in boxes:
        for k, other in enumerate(merged):
            h = min(box[3] - box[1], other[3] - other[1])
            vover = min(box[3], other[3]) - max(box[1], other[1])
            gap = max(box[0] - other[2], other[0] - box[0] - (box[2] - box[0]), 0.0)
            if h > 0 and vover > 0.6 * h and gap < 0.35 * h:
                merged[k] = (
                    min(box[0], other[0]),
                    min(box[1], other[1]),
                    max(box[2], other[2]),
                    max(box[3], other[3]),
                )
                break
        else:
            merged.append(box)
    return merged


def plan_page(model: PageModel, find: Finder, outcome: PageOutcome, pixel_boxes: Sequence[Box] = ()) -> None:
    """Decide which glyphs go and where boxes are drawn; records into contexts.

    ``pixel_boxes`` are page-space boxes over image pixels painted for OCR
    findings: any glyph drawn there goes too (an OCR text layer over a scan is
    removed where its pixels are, whatever its own text reads).
    """
    if model.unmappable:
        reasons = sorted(set(model.problems))
        outcome.failures.append(
            f"{model.unmappable} glyph(s) cannot be mapped to text ({'; '.join(reasons[:3])})"
        )
        return
    text = model.text
    spans: list[Redaction] = []
    if text.strip():
        spans = merge_redactions(r for r in find(text) if 0 <= r.start < r.end <= len(text))
    for span in spans:
        outcome.counts[span.entity_type] += 1
    removed = map_spans(model, spans)
    if pixel_boxes:
        for run in model.runs:
            over = [i for i in range(len(run.codes)) if any(_inside(run.center(i), b) for b in pixel_boxes)]
            if over:
                removed.setdefault(run, set()).update(over)
    hidden = hidden_glyphs(model)
    outcome.hidden_kinds.update(hidden.kinds)
    nobox: dict[Run, set[int]] = {}
    for run, idx in hidden.invisible.items():
        # Nothing was visible here: remove without a box, matched or not.
        matched = idx & removed.get(run, set())
        outcome.hidden_matched += len(matched)
        outcome.hidden_unmatched += len(idx - matched)
        removed.setdefault(run, set()).update(idx)
        nobox.setdefault(run, set()).update(idx)
    for run, idx in hidden.under.items():
        matched = idx & removed.get(run, set())
        outcome.hidden_matched += len(matched)
        unmatched = idx - matched
        if unmatched:
            outcome.hidden_unmatched += len(unmatched)
            removed.setdefault(run, set()).update(unmatched)
            nobox.setdefault(run, set()).update(unmatched)
    for run, idx in hidden.offpage.items():
        extra = idx - removed.get(run, set())
        if extra:
            outcome.offpage_removed += len(extra)
            removed.setdefault(run, set()).update(extra)
            nobox.setdefault(run, set()).update(extra)
    # Record removals in the stream contexts (shared by every use of a form on this page).
    for run, idx in removed.items():
        if not idx:
            continue
        if not math.isfinite(run.tfs_th) or (
            run.tfs_th == 0 and any(run.xs[i + 1] != run.xs[i] for i in idx if i < len(run.codes))
        ):
            # A zero-size glyph with character spacing advances, but no TJ number can say by how much.
            outcome.failures.append("text to remove is drawn with a zero font size or scale")
            continue
        if not run.font.widths_exact:
            outcome.failures.append(
                f"a {run.font.kind} font has no reliable widths; cannot remove glyphs in place"
            )
            continue
        if run.ctx.inconsistent:
            outcome.failures.append("a form XObject shows the same text with different text states")
            continue
        run.ctx.removed.setdefault((run.instr, run.elem), set()).update(idx)
    if outcome.failures:
        return
    # Boxes: every placement of a removed glyph, except hidden text that was already covered.
    raw_boxes: list[Box] = []
    for run in model.runs:
        gone = run.ctx.removed.get((run.instr, run.elem))
        if not gone:
            continue
        own_nobox = nobox.get(run, set())
        visible = {i for i in gone if i < len(run.codes) and i not in own_nobox}
        for i, j in _groups(visible):
            raw_boxes.append(run.glyph_box(i, j))
        outcome.glyphs_removed += len(gone)
    merged = _merge_boxes(raw_boxes)
    labels: list[str | None] = [None] * len(merged)
    for span in spans:
        if span.replacement is None:
            continue
        for run, idx in map_spans(model, [span]).items():
            if not idx:
                continue
            cx, cy = run.center(min(idx))
            for k, box in enumerate(merged):
                if labels[k] is None and _inside((cx, cy), box, 0.5):
                    labels[k] = span.replacement
                    break
            break
    outcome.boxes = [
        ((b[0] - _BOX_PAD, b[1] - _BOX_PAD, b[2] + _BOX_PAD, b[3] + _BOX_PAD), lab)
        for b, lab in zip(merged, labels, strict=True)
    ]


# -- rewriting content streams ----------------------------------------------
def _number(value: float) -> Decimal:
    return Decimal(f"{value:.4f}")


def _cut(run: Run, data: bytes, removed: set[int]) -> list[Any]:
    items: list[Any] = []
    buf = bytearray()
    pending = 0.0
    offsets = run.offsets
    xs = run.xs
    for i in range(len(run.codes)):
        if i in removed:
            if buf:
                items.append(pikepdf.String(bytes(buf)))
                buf.clear()
            pending += xs[i + 1] - xs[i]
            continue
        if pending and run.tfs_th:
            items.append(_number(-pending * 1000.0 / run.tfs_th))
        pending = 0.0
        if offsets is None:
            buf.append(data[i])
        else:
            buf += data[offsets[i] : offsets[i + 1]]
    if buf:
        items.append(pikepdf.String(bytes(buf)))
    if pending and run.tfs_th:
        items.append(_number(-pending * 1000.0 / run.tfs_th))
    return items


def _instr(operands: list[Any], op: str) -> pikepdf.ContentStreamInstruction:
    return pikepdf.ContentStreamInstruction(operands, pikepdf.Operator(op))


def _rewrite_show(ctx: StreamContext, ins: Any, idx: int, rem: dict[int, set[int]]) -> list[Any]:
    op = str(ins.operator)
    if op == "TJ":
        items: list[Any] = []
        for elem, item in enumerate(ins.operands[0]):
            if isinstance(item, pikepdf.String) and elem in rem:
                items.extend(_cut(ctx.proto[(idx, elem)], bytes(item), rem[elem]))
            else:
                items.append(item)
        return [_instr([pikepdf.Array(items)], "TJ")]
    data = bytes(ins.operands[-1])
    tj = _instr([pikepdf.Array(_cut(ctx.proto[(idx, -1)], data, rem[-1]))], "TJ")
    if op == "'":
        return [_instr([], "T*"), tj]
    if op == '"':
        return [_instr([ins.operands[0]], "Tw"), _instr([ins.operands[1]], "Tc"), _instr([], "T*"), tj]
    return [tj]


def rewritten_instructions(ctx: StreamContext) -> list[Any]:
    by_instr: dict[int, dict[int, set[int]]] = {}
    for (idx, elem), glyphs in ctx.removed.items():
        by_instr.setdefault(idx, {})[elem] = glyphs
    out: list[Any] = []
    for idx, ins in enumerate(ctx.instructions):
        if idx in ctx.drop:
            continue
        rep = ctx.replace.get(idx)
        if rep is not None:
            out.extend(rep)
            continue
        rem = by_instr.get(idx)
        if rem is None:
            out.append(ins)
        else:
            out.extend(_rewrite_show(ctx, ins, idx, rem))
    return out


def flate_stream(pdf: pikepdf.Pdf, data: bytes, **keys: Any) -> pikepdf.Stream:
    stream = pdf.make_stream(zlib.compress(data, 6))
    stream.Filter = pikepdf.Name.FlateDecode
    for k, v in keys.items():
        stream[f"/{k}"] = v
    return stream


_FORM_KEYS_DROPPED = {
    "/Length",
    "/Filter",
    "/DecodeParms",
    "/Resources",
    "/Metadata",
    "/PieceInfo",
    "/OC",
    "/LastModified",
}


def _copy_resources(
    res: Any, xobjects: dict[str, pikepdf.Object], unused: dict[str, set[str]] | None = None
) -> pikepdf.Dictionary:
    if isinstance(res, pikepdf.Stream):
        raise UnsupportedFile("the PDF's page resources are damaged")
    new = (
        pikepdf.Dictionary(dict(res.items())) if isinstance(res, pikepdf.Dictionary) else pikepdf.Dictionary()
    )
    for category, names in (unused or {}).items():
        if category == "/XObject":
            continue  # below, together with the replacements
        old_entries = new.get(category)
        if isinstance(old_entries, pikepdf.Dictionary):
            new[category] = pikepdf.Dictionary({k: v for k, v in old_entries.items() if k not in names})
    unused_xobjects = (unused or {}).get("/XObject", set())
    if xobjects or unused_xobjects:
        old = new.get("/XObject")
        xo = (
            pikepdf.Dictionary(dict(old.items()))
            if isinstance(old, pikepdf.Dictionary)
            else pikepdf.Dictionary()
        )
        for name in unused_xobjects:
            if name in xo and name not in xobjects:
                del xo[name]
        for name, obj in xobjects.items():
            xo[name] = obj
        new.XObject = xo
    return new


def materialise(
    pdf: pikepdf.Pdf, ctx: StreamContext, built: dict[Any, pikepdf.Object | None]
) -> pikepdf.Object | None:
    """A page-private replacement for the form ``ctx`` (None when unchanged)."""
    if ctx.key in built:
        return built[ctx.key]
    updates: dict[str, pikepdf.Object] = {}
    for name, child in ctx.children.items():
        new_child = materialise(pdf, child, built)
        if new_child is not None:
            updates[name] = new_child
    updates.update(ctx.xobject_replacements)
    if not ctx.changed() and not updates:
        built[ctx.key] = None
        return None
    resources = _copy_resources(ctx.resources, updates, ctx.unused)
    src = ctx.source
    if ctx.drop or ctx.replace or ctx.removed:
        form = flate_stream(pdf, pikepdf.unparse_content_stream(rewritten_instructions(ctx)))
        dropped = _FORM_KEYS_DROPPED
    else:
        # Only its resources change: keep the (size-checked) encoded content as it is.
        form = pdf.make_stream(src.read_raw_bytes())
        dropped = _FORM_KEYS_DROPPED - {"/Filter", "/DecodeParms"}
    for key, value in src.items():
        if key not in dropped:
            form[key] = value
    form.Resources = resources
    built[ctx.key] = form
    return form


def _label_ops(box: Box, label: str) -> bytes:
    metrics = std14_widths("Helvetica")
    widths = metrics[0] if metrics else {}
    encoded = label.encode("cp1252", errors="replace")
    width_1pt = sum(widths.get(_glyph_name(b), 556) for b in encoded) / 1000.0 or 1.0
    w = box[2] - box[0]
    h = box[3] - box[1]
    size = min(h * 0.75, (w - 1.0) / width_1pt)
    if size < 2.0:
        return b""
    x = box[0] + (w - width_1pt * size) / 2.0
    y = box[1] + (h - size * 0.7) / 2.0
    escaped = encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"BT 1 1 1 rg %s %.3f Tf %.3f %.3f Td (%s) Tj ET\n" % (
        _LABEL_FONT_NAME.encode(),
        size,
        x,
        y,
        escaped,
    )


def _glyph_name(code: int) -> str:
    return _std14.ENCODINGS["WinAnsiEncoding"][code] or "space"


def boxes_content(boxes: list[tuple[Box, str | None]]) -> bytes:
    if not boxes:
        return b""
    out = [b"q 0 0 0 rg\n"]
    for (x0, y0, x1, y1), _ in boxes:
        out.append(b"%.3f %.3f %.3f %.3f re f\n" % (x0, y0, x1 - x0, y1 - y0))
    for box, label in boxes:
        if label:
            out.append(_label_ops(box, label))
    out.append(b"Q\n")
    return b"".join(out)


def apply_page(
    pdf: pikepdf.Pdf,
    model: PageModel,
    outcome: PageOutcome,
    limits: PdfLimits,
    pixels: PagePixels | None = None,
) -> None:
    """Repaint images, then write the page's new content stream and resources."""
    if outcome.failures:
        return
    repaint_images(pdf, model, outcome, limits, pixels)
    if outcome.failures:
        return
    built: dict[Any, pikepdf.Object | None] = {}
    root = model.root
    updates: dict[str, pikepdf.Object] = {}
    for name, child in root.children.items():
        new_child = materialise(pdf, child, built)
        if new_child is not None:
            updates[name] = new_child
    updates.update(root.xobject_replacements)
    if not (root.changed() or updates or outcome.boxes or root.final_depth):
        return
    if not (root.drop or root.replace or root.removed or outcome.boxes or root.final_depth):
        # Only resources change (private form copies, unused XObjects dropped): content stays.
        model.page.Resources = _copy_resources(root.resources, updates, root.unused)
        return
    body = pikepdf.unparse_content_stream(rewritten_instructions(root))
    resources = _copy_resources(root.resources, updates, root.unused)
    if any(label for _, label in outcome.boxes):
        fonts = resources.get("/Font")
        fdict = (
            pikepdf.Dictionary(dict(fonts.items()))
            if isinstance(fonts, pikepdf.Dictionary)
            else pikepdf.Dictionary()
        )
        fdict[_LABEL_FONT_NAME] = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
        resources.Font = fdict
    data = b"q\n" + body + b"\n" + b"Q\n" * (1 + root.final_depth) + boxes_content(outcome.boxes)
    page = model.page
    page.Contents = flate_stream(pdf, data)
    page.Resources = resources


# -- images ---------------------------------------------------------------------
def _inverse(m: Matrix) -> Matrix | None:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if abs(det) < 1e-12:
        return None
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return (ia, ib, ic, id_, -(e * ia + f * ic), -(e * ib + f * id_))


def _pixel_rect(
    placement: ImagePlacement, box: Box, width: int, height: int
) -> tuple[int, int, int, int] | None:
    inv = _inverse(placement.ctm)
    if inv is None:
        return None
    pts = [
        (x * inv[0] + y * inv[2] + inv[4], x * inv[1] + y * inv[3] + inv[5])
        for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3]))
    ]
    us = [p[0] for p in pts]
    vs = [p[1] for p in pts]
    x0 = max(math.floor(min(us) * width) - 1, 0)
    x1 = min(math.ceil(max(us) * width) + 1, width)
    y0 = max(math.floor((1.0 - max(vs)) * height) - 1, 0)
    y1 = min(math.ceil((1.0 - min(vs)) * height) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)


def _covered_pixels(
    placements: list[ImagePlacement], boxes: list[Box], width: int, height: int
) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles (at ``width`` x ``height``) under any box, over every use of one image."""
    return [
        r
        for p in placements
        for b in boxes
        if _overlaps(p.bbox, b) and (r := _pixel_rect(p, b, width, height)) is not None
    ]


def _replace_image(ctx: StreamContext, use: ImageUse, new: pikepdf.Stream, serial: list[int]) -> None:
    first = use.first
    if first.name is not None:
        ctx.xobject_replacements[first.name] = new
        return
    # An inline image becomes a named XObject: the content stream cannot hold a new one inline.
    existing: Any = ctx.resources.get("/XObject", {}) if isinstance(ctx.resources, pikepdf.Dictionary) else {}
    while True:
        serial[0] += 1
        name = f"/RedactedImage{serial[0]}"
        if name not in existing and name not in ctx.xobject_replacements:
            break
    for p in use.placements:
        ctx.replace[p.instr] = [_instr([pikepdf.Name(name)], "Do")]
    ctx.xobject_replacements[name] = new


def repaint_images(
    pdf: pikepdf.Pdf,
    model: PageModel,
    outcome: PageOutcome,
    limits: PdfLimits,
    pixels: PagePixels | None = None,
) -> None:
    """Paint pixels under text boxes and OCR findings; replace images the rule removes."""
    boxes = [b for b, _ in outcome.boxes]
    uses = pixels.uses if pixels is not None and pixels.uses else None
    if not model.images or (not boxes and uses is None):
        return
    if uses is None:
        uses = page_images(model, limits, decode=False)
    serial = [0]
    for use in uses:
        placements = use.placements
        under_box = bool(boxes) and any(_overlaps(p.bbox, b) for p in placements for b in boxes)
        if use.placeholder:
            _replace_image(use.first.ctx, use, placeholder_stream(pdf), serial)
            outcome.images_replaced += 1
            continue
        if not under_box and not use.rects:
            continue
        if use.drawn is None and not use.unreadable:
            try:
                use.drawn = decode_drawn(use.first, limits)
            except CannotRead as exc:
                use.unreadable = str(exc)
        if use.drawn is None:
            outcome.failures.append(f"an image under a redaction box cannot be repainted ({use.unreadable})")
            return
        width, height = use.drawn.base.size
        rects = list(use.rects)
        if under_box:
            rects += _covered_pixels(placements, boxes, width, height)
        if not rects:
            continue
        _replace_image(use.first.ctx, use, painted_stream(pdf, use.drawn, rects), serial)
        outcome.images_repainted += 1
