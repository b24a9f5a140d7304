"""Page previews: a file's pages as PNG images, and where findings sit on them.

The review page shows each page of a file's original next to each
recipient's redacted output. :func:`render_views` renders several views of
one file (the original and every recipient's output) in one sandboxed child:

* PDF: pypdfium2, the page's ``/Rotate`` honoured, scaled so the long side
  is ``PreviewLimits.long_side`` pixels.
* Images: Pillow, EXIF orientation applied, every TIFF frame a page,
  downscaled the same way.
* Office, CSV and text: converted to PDF by LibreOffice headless in the
  child's private directory (its own profile, a timeout), then as PDF. Text
  is decoded by the text engine's rule first and handed over as UTF-8.
* Video: no pages; the rendering says why in one line.

*Marks* are where each finding's text sits on a page of the original, as
fractions ``[left, top, right, bottom]`` of the page (origin top left, the
same frame as manual boxes): for PDF pages from the text layer (pdfium's
character boxes, merged per line), for images and pages without a text
layer from OCR word boxes. Texts are matched in their folded form
(:func:`~exchange.domain.detection.normalise.fold_char`), so case, accents,
dashes and line breaks do not hide a match.

Threat assumptions: every input is hostile (it is the applicant's upload or
an output derived from it). pdfium, Pillow and Tesseract parse only inside
:func:`~exchange.domain.redaction.sandbox.run_sandboxed` with its memory, CPU
and wall-clock limits and Landlock. LibreOffice is the exception: it runs
under ``prlimit`` with the same limits, its own process group and a
deadline, but without Landlock (see :func:`convert_to_pdf` for why), so a
LibreOffice exploit could write where the worker can. Pages and pixels are bounded before any decoding
(``max_pages`` pages are rendered, the rest counted; an image larger than
``max_image_pixels`` is refused). A view that cannot be rendered has a
one-line ``reason`` and no pages; the other views still render.

Invariants: a :class:`Rendering` carries PNG bytes and numbers only, never
document text; marks carry the finding's own text (already in the
applicant's findings) and nothing else read from the page.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pillow_heif
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps, UnidentifiedImageError

from exchange.domain.detection.normalise import fold_char
from exchange.domain.errors import DomainError, UnsupportedFile
from exchange.domain.redaction.image.ocr import ocr_image
from exchange.domain.redaction.sandbox import SandboxLimits, run_sandboxed
from exchange.domain.redaction.text import detect_encoding

PDF = "application/pdf"
OFFICE = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}
TEXT = ("text/plain", "text/csv")
IMAGE_PREFIX = "image/"
VIDEO_PREFIX = "video/"
pillow_heif.register_heif_opener()

#: pixels per side of the virtual device marks are computed on: sub-pixel precision as fractions
_MARK_DEVICE = 10_000
#: a page whose text layer has fewer characters than this is read by OCR for marks (a scan)
_SCAN_CHARS = 8
#: pixels of the long side of an image read by OCR for marks (a photo is read smaller, like a page)
_OCR_LONG_SIDE = 3000
#: distinct finding texts looked for on a page; a longer list is cut (marks are a reading aid)
MAX_TERMS = 500


@dataclass(frozen=True, slots=True)
class PreviewLimits:
    """What one preview rendering may use (from settings)."""

    #: pages rendered per view; later pages are counted, not rendered
    max_pages: int = 50
    #: pixels of the long side of a rendered page
    long_side: int = 1200
    #: wall-clock seconds for all views of one file together (LibreOffice and OCR included)
    seconds: float = 300.0
    #: decoded pixels of one image (all its frames); larger images are refused
    max_image_pixels: int = 120_000_000
    #: largest file opened
    max_input_bytes: int = 256 * 2**20
    #: Tesseract languages for marks on images and scanned pages ("" = no OCR marks)
    ocr_languages: str = "eng+chi_sim"
    ocr_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class Term:
    """A finding's text to mark on the original, with its entity type."""

    text: str
    entity_type: str


@dataclass(slots=True)
class RenderedPage:
    #: from 1
    page: int
    png: bytes
    width: int
    height: int
    #: [{"text", "entity_type", "box": [l, t, r, b]}] in fractions of the page
    marks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Rendering:
    """One view of a file: its first pages as PNG, and how many pages it has."""

    pages: list[RenderedPage] = field(default_factory=list)
    #: pages (frames) in the file, rendered or not
    page_count: int = 0
    #: why there are no pages (video, a damaged file); "" when rendered
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ViewSource:
    """One view to render: its name ("original" or a recipient), where it is, and its type."""

    view: str
    path: Path
    media_type: str
    #: findings to mark on it (the original only)
    terms: tuple[Term, ...] = ()


def previewable(media_type: str) -> str:
    """ "" when files of ``media_type`` have pages to show, else the one-line reason why not."""
    if media_type.startswith(VIDEO_PREFIX):
        return "videos have no pages to preview; check the redacted video itself"
    if media_type == PDF or media_type in OFFICE or media_type in TEXT:
        return ""
    if media_type.startswith(IMAGE_PREFIX):
        return ""
    return f"no preview for {media_type} files"


def render_views(
    sources: Sequence[ViewSource], limits: PreviewLimits, workdir: Path, sandbox: SandboxLimits | None = None
) -> dict[str, Rendering]:
    """Render every view in one sandboxed child (see the module docstring).

    ``workdir`` must be private and empty but for the sources, which must lie
    in it (the child may write only there). A view that fails has a reason;
    a child that dies fails every view with its reason.
    """
    settings = replace(sandbox or SandboxLimits(), wall_seconds=limits.seconds)
    office = [s for s in sources if s.media_type in OFFICE or s.media_type in TEXT]
    converted = convert_to_pdf(office, limits, workdir, settings)
    try:
        run = run_sandboxed(_render_all, list(sources), converted, limits, limits=settings, workdir=workdir)
    except DomainError as exc:
        return {s.view: Rendering(reason=exc.message) for s in sources}
    value = run.value
    if not isinstance(value, dict):
        return {s.view: Rendering(reason="internal error while rendering this file") for s in sources}
    return value


def _render_all(
    sources: list[ViewSource], converted: dict[str, Path | str], limits: PreviewLimits
) -> dict[str, Rendering]:
    out: dict[str, Rendering] = {}
    # Marks read by OCR get half the time: past it pages still render, without marks.
    ocr_until = time.monotonic() + limits.seconds / 2
    for source in sources:
        reason = previewable(source.media_type)
        if reason:
            out[source.view] = Rendering(reason=reason)
            continue
        try:
            pdf = converted.get(source.view)
            if isinstance(pdf, str):
                out[source.view] = Rendering(reason=pdf)
            elif pdf is not None:
                out[source.view] = render_pdf(pdf, limits, source.terms, ocr_until=ocr_until)
            elif source.media_type == PDF:
                out[source.view] = render_pdf(source.path, limits, source.terms, ocr_until=ocr_until)
            else:
                out[source.view] = render_image(source.path, limits, source.terms, ocr_until=ocr_until)
        except DomainError as exc:
            out[source.view] = Rendering(reason=exc.message)
    return out


# -- PDF -----------------------------------------------------------------------


def render_pdf(
    path: Path, limits: PreviewLimits, terms: Sequence[Term] = (), *, ocr_until: float | None = None
) -> Rendering:
    """The first ``max_pages`` pages of a PDF as PNG, with marks for ``terms``."""
    _check_size(path, limits)
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        raise UnsupportedFile("the PDF cannot be opened for a preview") from None
    try:
        count = len(document)
        rendering = Rendering(page_count=count)
        wanted = _term_index(terms)
        for index in range(min(count, limits.max_pages)):
            page = document[index]
            try:
                rendering.pages.append(_render_pdf_page(page, index + 1, limits, wanted, ocr_until))
            finally:
                page.close()
    except pdfium.PdfiumError:
        raise UnsupportedFile("a page of the PDF cannot be rendered") from None
    finally:
        document.close()
    return rendering


def _render_pdf_page(
    page: Any, number: int, limits: PreviewLimits, terms: list[tuple[str, Term]], ocr_until: float | None
) -> RenderedPage:
    width, height = page.get_size()  # rotated size: what a viewer shows
    if width <= 0 or height <= 0:
        raise UnsupportedFile(f"page {number} has no size")
    scale = limits.long_side / max(width, height)
    image = page.render(scale=scale, may_draw_forms=True).to_pil()
    marks: list[dict[str, Any]] = []
    if terms:
        textpage = page.get_textpage()
        try:
            scanned = textpage.count_chars() < _SCAN_CHARS
            if not scanned:
                marks = _pdf_marks(page, textpage, terms)
        finally:
            textpage.close()
        if scanned:
            # No text layer: a scan. Its words are read from pixels, at twice the preview's size.
            hires = page.render(scale=scale * 2, may_draw_forms=True).to_pil()
            marks = _ocr_marks(hires, terms, limits, ocr_until)
    return _page(number, image, limits, marks)


def _pdf_marks(page: Any, textpage: Any, terms: list[tuple[str, Term]]) -> list[dict[str, Any]]:
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count)
    if len(text) != count:
        # pdfium counts UTF-16 units; a character outside the BMP shifts the indices: read one by one.
        text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i) or 0xFFFD) for i in range(count))
    folded, origin = fold_index(text)
    marks: list[dict[str, Any]] = []
    for key, term in terms:
        for start, end in find_all(folded, key):
            first, last = origin[start], origin[end - 1]
            for rect in range(textpage.count_rects(first, last - first + 1)):
                left, bottom, right, top = textpage.get_rect(rect)
                box = _to_fractions(page, (left, top), (right, bottom))
                if box is not None:
                    marks.append({"text": term.text, "entity_type": term.entity_type, "box": box})
    return marks


def _to_fractions(page: Any, a: tuple[float, float], b: tuple[float, float]) -> list[float] | None:
    """Two page-space corners as a box in fractions of the displayed (rotated) page."""
    points = []
    for x, y in (a, b):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        ok = pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, _MARK_DEVICE, _MARK_DEVICE, 0, x, y, dx, dy)
        if not ok:
            return None
        points.append((dx.value / _MARK_DEVICE, dy.value / _MARK_DEVICE))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    box = [_clamp(min(xs)), _clamp(min(ys)), _clamp(max(xs)), _clamp(max(ys))]
    return box if box[2] > box[0] and box[3] > box[1] else None


# -- images --------------------------------------------------------------------


def render_image(
    path: Path, limits: PreviewLimits, terms: Sequence[Term] = (), *, ocr_until: float | None = None
) -> Rendering:
    """Every frame (TIFF pages) of an image as a page, upright and downscaled."""
    _check_size(path, limits)
    try:
        with Image.open(path) as image:
            count = getattr(image, "n_frames", 1)
            if image.format in ("HEIF", "MPO"):
                count = 1  # only the primary image is ever shared (see the image engine)
            total = 0
            for index in range(min(count, limits.max_pages)):
                image.seek(index)
                total += image.width * image.height
                if total > limits.max_image_pixels:
                    raise UnsupportedFile(
                        f"the image is too large to preview ({total / 1e6:.0f} megapixels; "
                        f"the limit is {limits.max_image_pixels / 1e6:.0f})"
                    )
            rendering = Rendering(page_count=count)
            wanted = _term_index(terms)
            for index in range(min(count, limits.max_pages)):
                image.seek(index)
                image.load()
                upright = ImageOps.exif_transpose(image)
                frame = _flat(upright)
                marks = _ocr_marks(frame, wanted, limits, ocr_until) if wanted else []
                frame.thumbnail((limits.long_side, limits.long_side), Image.Resampling.LANCZOS)
                rendering.pages.append(_page(index + 1, frame, limits, marks))
            return rendering
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError) as exc:
        if isinstance(exc, DomainError):
            raise
        raise UnsupportedFile("the image cannot be decoded for a preview") from None
    except Image.DecompressionBombError:
        raise UnsupportedFile("the image is too large to preview") from None


def _flat(image: Image.Image) -> Image.Image:
    """RGB or L pixels; transparency shown on white, as a viewer would."""
    if image.mode in ("RGB", "L"):
        return image.copy()
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        floats = image.convert("F")
        lo, hi = (float(v) for v in floats.getextrema())  # type: ignore[arg-type]  # one band: (lo, hi)
        span = (hi - lo) or 1.0
        return floats.point(lambda v: (v - lo) * 255.0 / span).convert("L")
    if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def _ocr_marks(
    image: Image.Image, terms: list[tuple[str, Term]], limits: PreviewLimits, ocr_until: float | None = None
) -> list[dict[str, Any]]:
    """Marks from OCR word boxes; none when OCR cannot run or its time is up (marks are a reading aid)."""
    timeout = limits.ocr_timeout
    if ocr_until is not None:
        timeout = min(timeout, ocr_until - time.monotonic())
    if not terms or not limits.ocr_languages or timeout < 1:
        return []
    if max(image.size) > _OCR_LONG_SIDE:
        # Marks are fractions, so a smaller copy reads to the same places, and much faster.
        image = image.copy()
        image.thumbnail((_OCR_LONG_SIDE, _OCR_LONG_SIDE), Image.Resampling.LANCZOS)
    try:
        result = ocr_image(image, languages=limits.ocr_languages, timeout=timeout)
    except UnsupportedFile:
        return []
    width, height = result.size
    if not width or not height:
        return []
    folded, origin = fold_index(result.text)
    marks: list[dict[str, Any]] = []
    for key, term in terms:
        for start, end in find_all(folded, key):
            for left, top, right, bottom in result.boxes_for(origin[start], origin[end - 1] + 1):
                box = [
                    _clamp(left / width),
                    _clamp(top / height),
                    _clamp(right / width),
                    _clamp(bottom / height),
                ]
                if box[2] > box[0] and box[3] > box[1]:
                    marks.append({"text": term.text, "entity_type": term.entity_type, "box": box})
    return marks


# -- Office and text -------------------------------------------------------------


def convert_to_pdf(
    sources: Sequence[ViewSource], limits: PreviewLimits, workdir: Path, sandbox: SandboxLimits
) -> dict[str, Path | str]:
    """view -> the PDF LibreOffice made of it, or the one-line reason it could not.

    One LibreOffice run converts every view: its start-up dominates. It runs
    as a child of the caller, not in :func:`run_sandboxed`: LibreOffice must
    create (and on its first start, after a restart, remove) its
    single-instance socket in ``/tmp`` whatever ``TMPDIR`` says, which the
    sandbox's Landlock rules refuse. It is confined instead by ``prlimit``
    (the sandbox's memory, CPU, file size and open-file limits, no core
    dumps), its own process group killed on the deadline and after it ends,
    a private profile and working directory inside ``workdir``, and an
    environment without the worker's secrets.
    """
    if not sources:
        return {}
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    prlimit = shutil.which("prlimit")
    if soffice is None or prlimit is None:
        return {s.view: "LibreOffice is not installed on this server; no preview" for s in sources}
    inputs, outputs, profile = workdir / "convert-in", workdir / "convert-out", workdir / "lo-profile"
    for folder in (inputs, outputs, profile, workdir / "tmp"):
        folder.mkdir(mode=0o700, exist_ok=True)
    staged: dict[str, Path | str] = {}
    for source in sources:
        try:
            staged[source.view] = _stage_for_office(source, inputs, limits)
        except DomainError as exc:
            staged[source.view] = exc.message
    files = [p for p in staged.values() if isinstance(p, Path)]
    if files:
        reason = _run_soffice([prlimit, *_prlimits(sandbox), "--", soffice], profile, outputs, files, limits)
        if reason:
            return {s.view: reason for s in sources}
    result: dict[str, Path | str] = {}
    for view, path in staged.items():
        if isinstance(path, str):
            result[view] = path
            continue
        pdf = outputs / (path.stem + ".pdf")
        ok = pdf.is_file() and not pdf.is_symlink() and pdf.stat().st_size > 0
        result[view] = pdf if ok else "LibreOffice could not convert the document"
    return result


def _prlimits(sandbox: SandboxLimits) -> list[str]:
    return [
        f"--as={sandbox.memory_bytes}",
        f"--cpu={sandbox.cpu_seconds}",
        f"--fsize={sandbox.max_write_bytes}",
        f"--nofile={sandbox.open_files}",
        "--core=0",
    ]


def _run_soffice(
    command: list[str], profile: Path, outputs: Path, files: list[Path], limits: PreviewLimits
) -> str:
    """Run the conversion; "" when LibreOffice ran, else why not (one line)."""
    argv = [
        *command,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outputs),
        *(str(p) for p in files),
    ]
    # Only what LibreOffice needs: the worker's environment holds secrets.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(profile),
        "TMPDIR": str(profile.parent / "tmp"),
        "LANG": "C.UTF-8",
        "SAL_USE_VCLPLUGIN": "svp",
    }
    try:
        proc = subprocess.Popen(  # noqa: S603  (fixed argv, no shell; file names are server-chosen)
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=profile.parent,
            process_group=0,
        )
    except OSError:
        return "LibreOffice could not run; no preview"
    try:
        proc.wait(timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        return "the document took too long to convert for a preview"
    finally:
        # LibreOffice forks (oosplash, soffice.bin): end the whole group, finished or not.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return ""


def _stage_for_office(source: ViewSource, inputs: Path, limits: PreviewLimits) -> Path:
    _check_size(source.path, limits)
    # Server-chosen names: the view ("original", "supplier") and the type's extension.
    if source.media_type in TEXT:
        decoded = detect_encoding(source.path.read_bytes())
        target = inputs / f"{source.view}.txt"
        # LibreOffice reads a UTF-8 byte-order mark as the encoding; without one it guesses.
        target.write_bytes(b"\xef\xbb\xbf" + decoded.text.encode("utf-8", "replace"))
        return target
    target = inputs / f"{source.view}{OFFICE[source.media_type]}"
    shutil.copyfile(source.path, target)
    return target


# -- shared --------------------------------------------------------------------


def _check_size(path: Path, limits: PreviewLimits) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        raise UnsupportedFile("the file cannot be read for a preview") from None
    if size > limits.max_input_bytes:
        raise UnsupportedFile(f"the file is larger than {limits.max_input_bytes // 2**20} MiB; no preview")


def _page(
    number: int, image: Image.Image, limits: PreviewLimits, marks: list[dict[str, Any]]
) -> RenderedPage:
    if max(image.size) > limits.long_side:
        image.thumbnail((limits.long_side, limits.long_side), Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "L"):
        image = _flat(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return RenderedPage(number, buffer.getvalue(), image.width, image.height, marks)


def _clamp(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 5)


def fold_index(text: str) -> tuple[str, list[int]]:
    """``text`` folded for matching, and for each folded character the index it came from.

    Whitespace runs (line breaks included) fold to one space, and a hyphen
    at a line end is dropped with the break, as detection reads them.
    """
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        if not folded:
            continue
        if folded.isspace():
            if out and out[-1] == "-" and "\n" in folded:
                out.pop()
                origin.pop()
                continue
            if not out or out[-1] == " ":
                continue
            folded = " "
        for piece in folded:
            out.append(piece)
            origin.append(index)
    return "".join(out), origin


def find_all(haystack: str, needle: str) -> Iterable[tuple[int, int]]:
    """Non-overlapping (start, end) of ``needle`` in ``haystack``."""
    if not needle:
        return
    start = haystack.find(needle)
    while start >= 0:
        yield start, start + len(needle)
        start = haystack.find(needle, start + len(needle))


def _term_index(terms: Sequence[Term]) -> list[tuple[str, Term]]:
    """(folded text, term) per distinct folded text, longest first, at most MAX_TERMS."""
    seen: dict[str, Term] = {}
    for term in terms:
        key = fold_index(term.text)[0].strip()
        if key and key not in seen:
            seen[key] = term
    ordered = sorted(seen.items(), key=lambda item: -len(item[0]))
    return ordered[:MAX_TERMS]
