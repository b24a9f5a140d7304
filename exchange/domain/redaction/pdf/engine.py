"""The PDF redaction engine: read, redact page by page, sanitise, write, verify.

Invariants:

* ``redact_pdf`` returns data only when every page was redacted and the
  written file passed every verification check; otherwise ``ok`` is False,
  ``data`` is None and the report says which page failed and why.
* Input is untrusted: encrypted, damaged, looping, deeply nested or bomb
  files raise :class:`UnsupportedFile` with a one-line message; limits come
  from :class:`PdfLimits`. Pages are processed one at a time and only the
  rewritten content of changed pages is kept in memory until the final write.
* No secret value is ever placed in the report, an exception message or a
  log line: reports carry counts, page numbers and kinds only (not even font
  names, which are document content).
* Given an OCR reader (``pixels``; :class:`PdfEngine` always gives one),
  nothing leaves unread: every image a page draws is read by OCR (``images``),
  a page whose glyphs cannot be removed in place, or that paints pictures
  where the page model does not walk, is replaced by a redacted render of
  itself (``fallback``) rather than failing the file, and verification reads
  the output's pixels too. Lettering drawn as paths (outlined text, stroke
  fonts) is read by OCR of each page's shape layer (``shapes``); a page whose
  shapes spell a finding goes through the same fallback, and the verifier
  reads every output page's shape layer again. Only a page with text no
  extractor reads (pattern cells, soft-mask groups) still fails the file.
* Each font's extracted text is compared with OCR of its rendered lines
  (``textlayer``, a bounded sample): every page of a font whose text does not
  match what it draws goes through the same fallback, and such a page is
  verified by OCR of its render even when images are kept; if it was not
  rendered, the file fails (``text_layer_distrusted``).
* A page with the applicant's manual boxes always goes through that
  fallback, with the boxes painted into the render: nothing under a box
  (glyphs, vector paint, image samples, annotations) can survive a page that
  is only pixels. The written page is rendered again as displayed and each
  box must be solid with no text or annotation reaching into it
  (``verify.scan_manual_boxes``); a box on a page the file does not have, or
  a box without an OCR reader to render with, fails the file.
"""

from __future__ import annotations

import io
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium

from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.review import ManualBox
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import boxes_beyond
from exchange.domain.redaction.pdf.apply import PageOutcome, apply_page, hidden_glyphs, plan_page
from exchange.domain.redaction.pdf.fallback import MANUAL_REASON, can_fall_back, rasterize_failed_pages
from exchange.domain.redaction.pdf.images import (
    PixelReader,
    page_images,
    plan_pixels,
    scan_pixels,
    submit_page,
    unread_pictures,
)
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.output import save_pdf
from exchange.domain.redaction.pdf.rasterize import rasterize_pages
from exchange.domain.redaction.pdf.sanitise import postsanitise, presanitise, redact_marked_content
from exchange.domain.redaction.pdf.shapes import (
    SHAPES_REASON,
    pages_spelling_findings,
    scan_shapes,
    shape_layers,
)
from exchange.domain.redaction.pdf.textlayer import (
    DISTRUST_REASON,
    TextLayerCensus,
    TextLayerCheck,
    page_renders,
)
from exchange.domain.redaction.pdf.textmodel import Box, Interpreter
from exchange.domain.redaction.pdf.verify import (
    Leak,
    Needles,
    scan_manual_boxes,
    scan_objects,
    scan_pdfium,
    scan_raw,
)

MODES = ("surgical", "rasterize")
IMAGE_RULES = ("redact", "remove", "keep")
#: Exceptions a damaged or hostile file can raise from qpdf, pdfium or our parsers. They
#: become UnsupportedFile (fail closed, one line); the fuzz tests keep this list honest.
_DAMAGE = (
    pikepdf.PdfError,
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    zlib.error,
    RuntimeError,  # qpdf's std::bad_cast on objects of the wrong type
)


@dataclass(slots=True)
class PdfRedactionResult:
    ok: bool
    data: bytes | None
    report: dict[str, Any]
    leaks: list[Leak] = field(default_factory=list)


def _read(src: bytes | Path, limits: PdfLimits) -> bytes:
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
    else:
        try:
            size = Path(src).stat().st_size
            if size > limits.max_input_bytes:
                raise UnsupportedFile(f"the PDF is larger than {limits.max_input_bytes // 2**20} MiB")
            data = Path(src).read_bytes()
        except OSError as exc:
            raise UnsupportedFile("the file cannot be read") from exc
    if len(data) > limits.max_input_bytes:
        raise UnsupportedFile(f"the PDF is larger than {limits.max_input_bytes // 2**20} MiB")
    return data


def open_pdf(data: bytes, limits: PdfLimits) -> pikepdf.Pdf:
    """Open untrusted bytes with qpdf (which repairs damaged cross-reference tables)."""
    if b"%PDF" not in data[:1024]:
        raise UnsupportedFile("not a PDF")
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise UnsupportedFile("the PDF is password-protected; please upload an unprotected copy") from exc
    except (pikepdf.PdfError, ValueError, RecursionError) as exc:
        raise UnsupportedFile("the PDF is damaged beyond repair") from exc
    if pdf.is_encrypted:
        pdf.close()
        raise UnsupportedFile("the PDF is encrypted; please upload an unprotected copy")
    try:
        count = len(pdf.pages)
    except (pikepdf.PdfError, RecursionError, ValueError) as exc:
        pdf.close()
        raise UnsupportedFile("the PDF's page tree is damaged") from exc
    if count == 0:
        pdf.close()
        raise UnsupportedFile("the PDF has no pages")
    if count > limits.max_pages:
        pdf.close()
        raise UnsupportedFile(f"the PDF has {count} pages; at most {limits.max_pages} are supported")
    return pdf


def _no_find(_text: str) -> Sequence[Redaction]:
    return ()


def extract_pdf_text(src: bytes | Path, limits: PdfLimits | None = None) -> list[str]:
    """Text per page, exactly as :func:`redact_pdf` passes it to ``find``."""
    limits = limits or PdfLimits()
    data = _read(src, limits)
    with open_pdf(data, limits) as pdf:
        try:
            presanitise(pdf, Counter())
        except _DAMAGE as exc:
            raise UnsupportedFile("the PDF is damaged in a way this engine cannot process") from exc
        interp = Interpreter(pdf, limits)
        out = []
        for number, page in enumerate(pdf.pages, start=1):
            try:
                out.append(interp.page_model(page.obj, number).text)
            except RecursionError as exc:
                raise UnsupportedFile(f"page {number} nests objects too deeply") from exc
            except _DAMAGE as exc:
                raise UnsupportedFile(
                    f"page {number} is damaged in a way this engine cannot process"
                ) from exc
        return out


@dataclass(slots=True)
class PdfReading:
    """What :func:`read_pdf` learnt: page text, and the OCR of every image per page."""

    pages: list[str]
    #: per page, the OCR text of each distinct image drawn on it (read order)
    image_texts: list[list[str]]
    stats: dict[str, Any] = field(default_factory=dict)
    #: pages whose fonts' text does not match their pixels (see ``textlayer``)
    text_layer: TextLayerCheck = field(default_factory=TextLayerCheck)


def read_pdf(src: bytes | Path, limits: PdfLimits, reader: PixelReader) -> PdfReading:
    """Page text as :func:`extract_pdf_text`, and every drawn image read by ``reader``.

    The OCR results stay in ``reader`` (keyed by pixels) for :func:`redact_pdf`.
    Each font's text is checked against the rendered page (``textlayer``); the
    OCR of what an untrustworthy font shows, and of the whole render of each
    page it draws on, is read like an image's text, so detection sees it.
    """
    data = _read(src, limits)
    pages: list[str] = []
    keys: list[list[str]] = []
    stats: Counter[str] = Counter()
    with open_pdf(data, limits) as pdf:
        try:
            presanitise(pdf, Counter())
            interp = Interpreter(pdf, limits)
            census = TextLayerCensus(interp)
            for number, page in enumerate(pdf.pages, start=1):
                model = interp.page_model(page.obj, number)
                pages.append(model.text)
                census.add(model)
                uses = page_images(model, limits)
                submit_page(uses, reader)
                stats["unreadable"] += sum(1 for u in uses if u.drawn is None)
                stats["too_small"] += sum(1 for u in uses if u.drawn is not None and not u.pixels)
                keys.append(list(dict.fromkeys(u.pixels for u in uses if u.pixels)))
                del model
            # Lettering drawn as paths is read from the shape layer's render (see ``shapes``).
            for number, image in shape_layers(data, limits.max_nesting_depth, limits.max_image_pixels):
                keys[number - 1].append(reader.submit(image, oriented=True))
                stats["shape_layers"] += 1
            settings = reader.settings
            text_layer = census.check(
                data, pdf, limits, languages=settings.languages, timeout=settings.timeout
            )
            # The fallback renders these pages the same way: the same pixels reuse this reading.
            for number, image in page_renders(data, sorted(text_layer.distrusted), limits):
                keys[number - 1].append(reader.submit(image))
        except RecursionError as exc:
            raise UnsupportedFile("the PDF nests objects too deeply") from exc
        except (*_DAMAGE, pdfium.PdfiumError) as exc:
            raise UnsupportedFile("the PDF is damaged in a way this engine cannot process") from exc
    image_texts = [[reader.get(key).text for key in page_keys] for page_keys in keys]
    for number, texts in text_layer.ocr_texts.items():
        image_texts[number - 1].extend(texts)
    results = [reader.get(key) for key in dict.fromkeys(k for page_keys in keys for k in page_keys)]
    means = [r.mean_confidence for r in results if r.mean_confidence is not None]
    low = [m for m in means if m < reader.settings.review_confidence]
    ocr: dict[str, Any] = {
        "used": bool(results),
        "images": len(results),
        "mean_confidence": round(sum(means) / len(means), 1) if means else None,
        "min_confidence": round(min(means), 1) if means else None,
        "low_confidence_images": len(low),
        "too_small_images": stats["too_small"],
        "unreadable_images": stats["unreadable"],
        "shape_layers": stats["shape_layers"],
    }
    return PdfReading(pages, image_texts, {"ocr": ocr, "text_layer": text_layer.report()}, text_layer)


def check_text_layer(data: bytes, limits: PdfLimits, reader: PixelReader) -> TextLayerCheck:
    """The ``textlayer`` check alone, for a caller of :func:`redact_pdf` that did not read first."""
    with open_pdf(data, limits) as pdf:
        presanitise(pdf, Counter())
        interp = Interpreter(pdf, limits)
        census = TextLayerCensus(interp)
        for number, page in enumerate(pdf.pages, start=1):
            census.add(interp.page_model(page.obj, number))
        settings = reader.settings
        return census.check(data, pdf, limits, languages=settings.languages, timeout=settings.timeout)


def redact_pdf(
    src: bytes | Path,
    *,
    find: Callable[[str], Sequence[Redaction]],
    sensitive_values: Sequence[str],
    mode: str = "surgical",
    limits: PdfLimits = PdfLimits(),  # noqa: B008  (frozen, immutable default)
    pixels: PixelReader | None = None,
    images: str = "redact",
    manual: Sequence[ManualBox] = (),
    text_layer: TextLayerCheck | None = None,
) -> PdfRedactionResult:
    """Redact ``src`` for one recipient and verify the result (see module docstring).

    ``find`` is called with each page's text (see :func:`extract_pdf_text`) and
    with other text-bearing places (bookmark titles, link URIs, structure-tree
    /Alt and /ActualText, marked-content /ActualText); flattened annotation and
    form-field appearances are part of page text. ``sensitive_values`` is read
    only when verifying, after every ``find`` call, so a caller may append
    values it discovers inside ``find``. ``mode="rasterize"`` burns the boxes of
    pages with redactions into page images (see ``rasterize``).

    With ``pixels`` (an OCR reader, usually filled by :func:`read_pdf`), pixels
    are read too: every drawn image's OCR text goes to ``find`` and what it
    finds is painted into the image (``images="redact"``), or every image is
    replaced by a placeholder (``"remove"``) or left as drawn (``"keep"``, not
    verified by OCR); a page whose glyphs cannot be removed in place is
    rendered, redacted as pixels and replaced by that picture (``fallback``);
    and the written output's pixels are OCR'd and searched for every value.
    Without ``pixels`` images are left unread and such a page fails the file.

    ``manual`` are the applicant's boxes (fractions of the page as displayed):
    their pages are rendered with the boxes painted (module docstring), and
    the report's page entries say ``manual_boxes`` and count them as MANUAL.

    ``text_layer`` is :func:`read_pdf`'s check of fonts against pixels; with
    ``pixels`` and without it, the check runs here. Every page it distrusts is
    replaced by its redacted render (its text layer is not what it shows), and
    is verified by OCR of that render whatever the images rule.
    """
    if mode not in MODES:
        raise ValueError(f"unknown redaction mode {mode!r}")
    if images not in IMAGE_RULES:
        raise ValueError(f"unknown images rule {images!r}")
    started = time.perf_counter()
    data = _read(src, limits)
    stats: Counter[str] = Counter()
    if text_layer is None and pixels is not None:
        try:
            text_layer = check_text_layer(data, limits, pixels)
        except RecursionError as exc:
            raise UnsupportedFile("the PDF nests objects too deeply") from exc
        except (*_DAMAGE, pdfium.PdfiumError) as exc:
            raise UnsupportedFile("the PDF is damaged in a way this engine cannot process") from exc
    distrusted = dict(text_layer.distrusted) if text_layer is not None and pixels is not None else {}
    pages_report: list[dict[str, Any]] = []
    boxes_by_page: dict[int, list[tuple[Box, str | None]]] = {}
    recheck_pages: list[int] = []
    fallback: dict[int, list[str]] = {}
    removed_images: dict[int, list[Box]] = {}
    painted_pages: list[int] = []
    turned_pages: set[int] = set()
    warnings: list[str] = []
    failed = False
    boxed: dict[int, list[ManualBox]] = {}
    for box in manual:
        boxed.setdefault(box.page, []).append(box)
    with open_pdf(data, limits) as pdf:
        beyond = boxes_beyond(sorted(boxed), len(pdf.pages))
        if beyond:
            refused: dict[str, Any] = {"format": "pdf", "mode": mode, "pages": [], "counts": {}, "ok": False}
            refused.update(page_count=len(pdf.pages), withheld=beyond)
            refused["verification"] = {"performed": False, "reason": beyond}
            return PdfRedactionResult(False, None, refused, [])
        try:
            presanitise(pdf, stats)
            interp = Interpreter(pdf, limits)
            for number, page in enumerate(pdf.pages, start=1):
                model = interp.page_model(page.obj, number)
                outcome = PageOutcome(page=number)
                page_pixels = plan_pixels(model, find, pixels, images, limits) if pixels is not None else None
                plan_page(model, find, outcome, page_pixels.page_boxes if page_pixels else ())
                if page_pixels is not None and images != "keep":
                    outcome.failures += unread_pictures(model, limits)
                if not outcome.failures:
                    outcome.marked_content_redacted = redact_marked_content(
                        model.contexts.values(), find, stats
                    )
                    apply_page(pdf, model, outcome, limits, page_pixels)
                    outcome.unused_resources_removed = sum(
                        len(names) for c in model.contexts.values() for names in c.unused.values()
                    )
                entry = _page_report(outcome, model.hidden_oc_ops)
                if page_pixels is not None:
                    outcome.counts.update(page_pixels.counts)
                    entry["redactions"] = dict(outcome.counts)
                    entry["images_read"] = page_pixels.images_read
                    entry["images_replaced"] = outcome.images_replaced
                    warnings.extend(page_pixels.warnings)
                    if page_pixels.turned:
                        turned_pages.add(number)
                if number in boxed and pixels is None:
                    outcome.failures.append("a manual box needs the page rendered, without an OCR reader")
                    entry.update(status="failed", reasons=sorted(set(outcome.failures)))
                reasons = [
                    *outcome.failures,
                    *([MANUAL_REASON] if number in boxed else []),
                    *([distrusted[number]] if number in distrusted else []),
                ]
                if reasons:
                    if pixels is not None and can_fall_back(reasons):
                        fallback[number] = reasons
                        if images == "remove":
                            removed_images[number] = [p.bbox for p in model.images]
                    else:
                        failed = True
                # Pages whose input had opaque paint, images or hidden text are re-read with
                # our model after writing (nothing may stay hidden); text under the boxes we
                # draw is checked on every page through pdfium.
                if outcome.hidden_kinds or any(c.opaque for c in model.covers) or model.image_covers:
                    recheck_pages.append(number)
                if outcome.images_repainted or outcome.images_replaced:
                    painted_pages.append(number)
                boxes_by_page[number] = outcome.boxes
                pages_report.append(entry)
                del model
            postsanitise(pdf, find, stats, limits.max_nesting_depth)
            out = None if failed else save_pdf(pdf)
        except RecursionError as exc:
            raise UnsupportedFile("the PDF nests objects too deeply") from exc
        except _DAMAGE as exc:
            raise UnsupportedFile(
                f"the PDF is damaged in a way this engine cannot process ({type(exc).__name__})"
            ) from exc
    report: dict[str, Any] = {
        "format": "pdf",
        "mode": mode,
        "pages": pages_report,
        "page_count": len(pages_report),
        "sanitisation": dict(sorted(stats.items())),
    }
    if pixels is not None:
        report["images"] = images
    if text_layer is not None:
        report["text_layer"] = text_layer.report()
    if warnings:
        report["warnings"] = sorted(set(warnings))
    if failed or out is None:
        report["counts"] = _total_counts(pages_report)
        report["ok"] = False
        report["verification"] = {"performed": False, "reason": "one or more pages could not be redacted"}
        return PdfRedactionResult(False, None, report, [])
    if pixels is not None:
        # Lettering drawn as paths has no glyphs to remove: a page whose shapes spell a
        # finding is replaced by its redacted render, like a page that cannot be edited.
        try:
            lettered = pages_spelling_findings(out, find, pixels, limits, skip=frozenset(fallback))
        except pdfium.PdfiumError as exc:
            raise UnsupportedFile("the PDF is damaged: its redacted copy could not be rendered") from exc
        for number in lettered:
            fallback[number] = [SHAPES_REASON]
    if fallback:
        assert pixels is not None  # noqa: S101  (fallback is only planned with a reader)
        try:
            out, entries = rasterize_failed_pages(
                out, fallback, find=find, reader=pixels, limits=limits, covers=removed_images, manual=boxed
            )
        except (*_DAMAGE, pdfium.PdfiumError) as exc:
            raise UnsupportedFile("a page that needed rendering could not be rendered") from exc
        for number, entry in entries.items():
            if set(fallback[number]) <= {MANUAL_REASON, SHAPES_REASON, DISTRUST_REASON}:
                # Redacted in place before it was rendered: what that removed counts as well.
                done = Counter(pages_report[number - 1].get("redactions", {}))
                entry["redactions"] = dict(done + Counter(entry["redactions"]))
            pages_report[number - 1] = entry
            if entry.pop("read_turned"):
                turned_pages.add(number)
            boxes_by_page[number] = []
        recheck_pages = [n for n in recheck_pages if n not in entries]
        report["fallback_rasterized_pages"] = sorted(entries)
    report["counts"] = _total_counts(pages_report)
    if mode == "rasterize":
        pages_with_boxes = [
            n for n, b in boxes_by_page.items() if (b or n in painted_pages) and n not in fallback
        ]
        try:
            out = rasterize_pages(out, pages_with_boxes, limits)
        except (*_DAMAGE, pdfium.PdfiumError) as exc:
            raise UnsupportedFile("the PDF could not be rendered for rasterize mode") from exc
        report["rasterized_pages"] = pages_with_boxes
        boxes_by_page = {}
    read_pixels = pixels if images != "keep" else None
    try:
        leaks = verify_output(
            out,
            sensitive_values,
            boxes_by_page,
            recheck_pages,
            limits,
            pixels=read_pixels,
            turned_pages=frozenset(turned_pages),
            shapes=pixels,
            rendered=frozenset(fallback) if pixels is not None and read_pixels is None else frozenset(),
            reader=pixels,
        )
    except (*_DAMAGE, RecursionError, pdfium.PdfiumError) as exc:
        # Our own output must re-open cleanly; if it does not, nothing is released.
        raise UnsupportedFile("the PDF is damaged: its redacted copy could not be verified") from exc
    if boxed:
        try:
            leaks += scan_manual_boxes(out, manual, limits.max_image_pixels)
        except pdfium.PdfiumError as exc:
            raise UnsupportedFile("the PDF is damaged: its redacted copy could not be verified") from exc
    checks = [
        "pdfium_page_text",
        "object_strings",
        "decoded_streams",
        "raw_streams",
        "text_under_box",
        "hidden_text",
    ]
    # A page whose text layer lies must have become pixels: text checks alone cannot pass it.
    leaks += [Leak(n, "text_layer_distrusted", -1) for n in sorted(distrusted) if n not in fallback]
    if boxed:
        checks.append("manual_boxes")
    if read_pixels is not None:
        checks.append("image_ocr")
    elif pixels is not None and fallback:
        checks.append("rendered_page_ocr")
    if distrusted:
        checks.append("text_layer")
    if pixels is not None:
        checks.append("shape_ocr")
    report["verification"] = {
        "performed": True,
        "passed": not leaks,
        "checks": checks,
        "leaks": [leak.as_dict() for leak in leaks],
        "values_checked": len(set(sensitive_values)),
    }
    report["ok"] = not leaks
    report["seconds"] = round(time.perf_counter() - started, 3)
    if leaks:
        return PdfRedactionResult(False, None, report, leaks)
    return PdfRedactionResult(True, out, report, [])


def _total_counts(pages_report: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sum((Counter(p.get("redactions", {})) for p in pages_report), Counter()))


def verify_output(
    data: bytes,
    sensitive_values: Sequence[str],
    boxes_by_page: dict[int, list[tuple[Box, str | None]]],
    recheck_pages: Sequence[int],
    limits: PdfLimits,
    *,
    pixels: PixelReader | None = None,
    turned_pages: frozenset[int] = frozenset(),
    shapes: PixelReader | None = None,
    rendered: frozenset[int] = frozenset(),
    reader: PixelReader | None = None,
) -> list[Leak]:
    """Every check of ``verify``; with ``pixels``, the OCR of every image in ``data`` too;
    with ``shapes``, the OCR of every page's lettering drawn as paths (``shapes``).

    Without ``pixels`` (images kept as drawn), the pages in ``rendered`` (pages the
    fallback replaced by their render) are still read by ``reader``: their picture
    is their text, not an image the document had."""
    needles = Needles(sensitive_values)
    leaks: list[Leak] = []
    if needles:
        leaks += scan_pdfium(data, needles, boxes_by_page)
        leaks += scan_objects(data, needles, limits)
        leaks += scan_raw(data, needles, limits)
    else:
        leaks += scan_pdfium(data, needles, boxes_by_page)
    # Our own model re-reads changed pages: no live glyph under any opaque box or off the page.
    if recheck_pages:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            interp = Interpreter(pdf, limits)
            pages = pdf.pages
            for number in recheck_pages:
                model = interp.page_model(pages[number - 1].obj, number)
                hidden = hidden_glyphs(model)
                if hidden.under or hidden.offpage:
                    leaks.append(Leak(number, "text_under_box", -1))
                if hidden.invisible:
                    leaks.append(Leak(number, "hidden_text", -1))
                for idx in needles.search(model.text) if needles else []:
                    leaks.append(Leak(number, "page_text", idx))
    if pixels is not None:
        leaks += scan_pixels(data, needles, pixels, limits, turned_pages)
    elif rendered and reader is not None:
        leaks += scan_pixels(data, needles, reader, limits, turned_pages, pages=rendered)
    if shapes is not None:
        leaks += scan_shapes(data, needles, shapes, limits)
    unique: dict[tuple[int | None, str, int], Leak] = {}
    for leak in leaks:
        unique.setdefault((leak.page, leak.kind, leak.value_index), leak)
    return list(unique.values())


def _page_report(outcome: PageOutcome, hidden_oc_ops: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "page": outcome.page,
        "redactions": dict(outcome.counts),
        "glyphs_removed": outcome.glyphs_removed,
        "boxes": len(outcome.boxes),
        "images_repainted": outcome.images_repainted,
        "hidden_text_matched": outcome.hidden_matched,
        "hidden_text_unmatched": outcome.hidden_unmatched,
        "offpage_text_removed": outcome.offpage_removed,
        "hidden_text_kinds": dict(sorted(outcome.hidden_kinds.items())),
        "hidden_layer_operators_removed": hidden_oc_ops,
        "unused_resources_removed": outcome.unused_resources_removed,
        "status": "failed" if outcome.failures else "ok",
    }
    if outcome.failures:
        entry["reasons"] = sorted(set(outcome.failures))
    if outcome.hidden_unmatched:
        entry["warnings"] = [
            "text hidden from view (under an opaque paint, clipped, tiny, transparent or in the"
            " colour of its background) matched no finding; it was removed"
        ]
    return entry
