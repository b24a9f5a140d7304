"""OCR of pixels with Tesseract: words, their boxes and confidences, and a text to scan.

Images are read by Tesseract loaded in this process (tesserocr) and kept
loaded from image to image (:class:`_ReaderPool`), with the models of the
Tesseract program on PATH: starting the program costs more than reading a
video frame or a small photo. No plaintext image touches the disk, and a
reading that overruns its timeout is cancelled. Every caller runs inside the
engine sandbox (:mod:`exchange.domain.redaction.sandbox`), so a crash fails
a file, never the worker. Only the orientation detector
(:func:`detect_quarter_turn`) still runs the program. Tesseract is told to
use one thread (``OMP_THREAD_LIMIT=1``) because the callers run several
images in parallel; one multi-threaded Tesseract per core only thrashes.

Invariants:

* :attr:`OcrResult.text` is built from the words only, so every character of
  it maps back to exactly one word box (``spans``); a detector finding over
  that text becomes pixel boxes through :meth:`OcrResult.boxes_for`.
* A failed or timed-out run raises :class:`UnsupportedFile`; a caller never
  mistakes "OCR did not run" for "OCR found nothing".
* Every word box is in the pixel frame of the image that was passed in, also
  for words read from a rotated copy (:func:`ocr_oriented`): those keep their
  box in the rotated frame (``frame_box``) with the :class:`Rotation` that
  maps it back, so a caller can cover the slanted line exactly.

Text at an angle (measured with DejaVu labels, Tesseract 5.3, ``--psm 3``):
one pass reads horizontal text and vertical text turned 270 degrees; at 5
degrees it already breaks a part number over two lines (mean confidence 83),
at 8 degrees it reads fragments (69), from about 10 degrees nothing, and text
turned 90 or 180 degrees comes out as nonsense. :func:`ocr_oriented`
therefore makes a second round when the first pass is weak (fewer than three
confident words, or a mean confidence under :data:`STRONG_MEAN`): it
asks Tesseract's orientation detector (``--psm 0``) for a quarter turn and
tries turns of +-5, +-10, +-20, +-30 and +-45 degrees, keeping every pass
that reads more confident words than the first or the same ones more surely.
That costs up to eleven more Tesseract runs, on weak images only. Limits: an
image whose first pass is strong is not searched further, so a small slanted sticker on a page of
horizontal text is read only as far as the first pass reads it; text at
angles between the tried ones by more than about 5 degrees is missed;
curved, perspective-distorted or mirrored text is not handled.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from PIL import Image

from exchange.domain.errors import UnsupportedFile

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels, right/bottom exclusive
Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]

#: a word Tesseract is at least this sure of counts as read (0-100)
CONFIDENT = 60.0
#: a first pass whose mean word confidence is under this is searched further:
#: upright print reads at 90-96, while text at 5-8 degrees still reads at
#: 69-83 with words broken apart (measured; see the module docstring)
STRONG_MEAN = 85.0
#: turns tried when the first pass is weak (degrees counter-clockwise)
SEARCH_ANGLES: tuple[float, ...] = (5, -5, 10, -10, 20, -20, 30, -30, 45, -45)
#: turns :func:`ocr_batch` tries on an :func:`unsure` reading: sideways and upside down
QUARTER_TURNS: tuple[float, ...] = (90, 270, 180)


@dataclass(frozen=True, slots=True)
class Rotation:
    """How a rotated copy read by OCR relates to the image it was made from.

    The copy is ``source.rotate(angle, expand=True)``: turned ``angle``
    degrees counter-clockwise about its centre and enlarged to hold all of it.
    """

    angle: float
    source_size: tuple[int, int]
    size: tuple[int, int]

    def to_source(self, x: float, y: float) -> Point:
        theta = math.radians(self.angle)
        cos, sin = math.cos(theta), math.sin(theta)
        dx, dy = x - self.size[0] / 2, y - self.size[1] / 2
        # Inverse of the counter-clockwise turn in image coordinates (y grows downwards).
        return (
            self.source_size[0] / 2 + dx * cos - dy * sin,
            self.source_size[1] / 2 + dx * sin + dy * cos,
        )

    def quad(self, box: Box) -> Quad:
        left, top, right, bottom = box
        a, b, c, d = (
            self.to_source(x, y) for x, y in ((left, top), (right, top), (right, bottom), (left, bottom))
        )
        return (a, b, c, d)

    def bounds(self, box: Box) -> Box:
        points = self.quad(box)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        width, height = self.source_size
        return (
            max(0, math.floor(min(xs))),
            max(0, math.floor(min(ys))),
            min(width, math.ceil(max(xs))),
            min(height, math.ceil(max(ys))),
        )


@dataclass(frozen=True, slots=True)
class OcrWord:
    text: str
    #: axis-aligned box in the pixel frame of the image passed to OCR
    box: Box
    #: Tesseract's word confidence, 0-100
    confidence: float
    #: (block, paragraph, line): words of one line share it (unique across passes)
    line: tuple[int, int, int]
    #: box in the rotated copy the word was read from; None when read upright
    frame_box: Box | None = None
    rotation: Rotation | None = None


@dataclass(slots=True)
class OcrResult:
    words: list[OcrWord] = field(default_factory=list)
    #: words joined: one space within a line, a line break between lines
    text: str = ""
    #: character range of each word in ``text``, parallel to ``words``
    spans: list[tuple[int, int]] = field(default_factory=list)
    #: size of the image that was read
    size: tuple[int, int] = (0, 0)
    #: turns (degrees counter-clockwise) whose readings are in ``words``; 0 is upright
    angles: tuple[float, ...] = (0,)

    @property
    def mean_confidence(self) -> float | None:
        if not self.words:
            return None
        return sum(w.confidence for w in self.words) / len(self.words)

    @property
    def min_confidence(self) -> float | None:
        return min((w.confidence for w in self.words), default=None)

    def boxes_for(self, start: int, end: int) -> list[Box]:
        """Pixel boxes covering text[start:end]: one box per line, whole words.

        A span that covers part of a word covers the whole word: Tesseract
        gives no character boxes that are reliable enough to cut a word.
        """
        by_line: dict[tuple[int, int, int], Box] = {}
        for word, (ws, we) in zip(self.words, self.spans, strict=True):
            if ws < end and we > start:
                prev = by_line.get(word.line)
                by_line[word.line] = word.box if prev is None else union(prev, word.box)
        return list(by_line.values())

    def line_boxes_for(self, start: int, end: int) -> list[tuple[Box, Rotation | None]]:
        """Like :meth:`boxes_for`, but each line's box in the frame it was read in.

        A line read from a rotated copy is a box in that copy plus the
        :class:`Rotation` mapping it back: a slanted line is covered by a
        slanted quadrilateral, not by the (much larger) upright box around it.
        """
        by_line: dict[tuple[int, int, int], tuple[Box, Rotation | None]] = {}
        for word, (ws, we) in zip(self.words, self.spans, strict=True):
            if ws < end and we > start:
                box = word.frame_box if word.frame_box is not None else word.box
                prev = by_line.get(word.line)
                by_line[word.line] = (box if prev is None else union(prev[0], box), word.rotation)
        return list(by_line.values())

    def confident_words(self) -> int:
        return sum(1 for w in self.words if w.confidence >= CONFIDENT and len(w.text) > 1)


def union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


@cache
def tesseract_path() -> str:
    path = shutil.which("tesseract")
    if path is None:
        raise UnsupportedFile("OCR is not available on this server (tesseract is not installed)")
    return path


@cache
def _list_langs() -> list[str]:
    """``tesseract --list-langs``: a line naming the model directory, then one language per line."""
    try:
        out = subprocess.run(  # noqa: S603  (fixed argv, no shell)
            [tesseract_path(), "--list-langs"], capture_output=True, timeout=30, check=False
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.splitlines()


def installed_languages() -> frozenset[str]:
    return frozenset(line.strip() for line in _list_langs()[1:] if line.strip())


def check_languages(languages: str) -> str:
    """``languages`` ("eng+chi_sim") when all are installed, else UnsupportedFile naming the missing."""
    wanted = [lang for lang in languages.split("+") if lang]
    missing = [lang for lang in wanted if lang not in installed_languages()]
    if not wanted or missing:
        raise UnsupportedFile(
            f"OCR language data missing on this server: {', '.join(missing) or '(none set)'}"
        )
    return "+".join(wanted)


def grey(image: Image.Image) -> Image.Image:
    """What Tesseract reads: it binarises a grey image itself, so colour only costs encoding time.

    An alpha channel is composited onto white first: transparent pixels show
    the background in a viewer, whatever colour values they hold.
    """
    if image.mode in ("1", "L"):
        return image
    if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return image.convert("L")


def _encode(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    # Uncompressed PGM/PBM: leptonica reads it from stdin, and encoding costs
    # only a copy (PNG at level 1 took longer than the OCR on large photos).
    grey(image).save(buf, format="PPM")
    return buf.getvalue()


def _run(argv: list[str], image: Image.Image, timeout: float) -> str:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        proc = subprocess.run(  # noqa: S603  (fixed argv, no shell)
            argv, input=_encode(image), capture_output=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        raise UnsupportedFile(f"OCR took longer than {timeout:g} seconds") from None
    except OSError as exc:
        raise UnsupportedFile(f"OCR could not run ({exc.strerror})") from None
    if proc.returncode != 0:
        raise UnsupportedFile("OCR failed on this image")
    return proc.stdout.decode("utf-8", "replace")


def ocr_image(image: Image.Image, *, languages: str, timeout: float, psm: int = 3) -> OcrResult:
    """Read ``image`` as it stands, once; see the module docstring."""
    return ocr_batch([image], languages=languages, timeout=timeout, psm=psm)[0]


def detect_quarter_turn(image: Image.Image, *, timeout: float) -> float | None:
    """The counter-clockwise turn (90, 180, 270) that sets the text upright, per Tesseract's OSD.

    None when OSD sees upright text, is unsure, or has too few characters to say.
    """
    argv = [tesseract_path(), "stdin", "stdout", "--psm", "0", "--dpi", "300"]
    try:
        out = _run(argv, image, timeout)
    except UnsupportedFile:
        return None  # "too few characters" is a failed run; the angle search still happens
    rotate = re.search(r"Rotate: (\d+)", out)
    confidence = re.search(r"Orientation confidence: ([\d.]+)", out)
    if rotate is None or confidence is None or float(confidence.group(1)) < 1.5:
        return None
    # OSD's "Rotate" is clockwise; Pillow's rotate() turns counter-clockwise.
    turn = (360 - int(rotate.group(1))) % 360
    return float(turn) if turn else None


def weak(result: OcrResult) -> bool:
    """A reading that suggests text OCR could not see upright (see module docstring)."""
    mean = result.mean_confidence
    return result.confident_words() < 3 or mean is None or mean < STRONG_MEAN


def unsure(result: OcrResult) -> bool:
    """A reading with a word Tesseract doubts, or a low mean: what text upside down or turned looks like.

    Unlike :func:`weak`, a reading of a few words all read surely (a short
    caption, a label) is not unsure: upside-down or sideways text comes out
    as words of confidence 2-50 (measured on video frames), never as sure ones.
    """
    mean = result.mean_confidence
    return mean is not None and (mean < STRONG_MEAN or any(w.confidence < CONFIDENT for w in result.words))


def better(turned: OcrResult, first: OcrResult) -> bool:
    """A turned pass worth keeping: more confident words, or the same words read more surely."""
    count = turned.confident_words()
    if count < 3:
        return False
    return (
        count > first.confident_words() or (turned.mean_confidence or 0) >= (first.mean_confidence or 0) + 5
    )


def _read_turned(
    image: Image.Image,
    angle: float,
    *,
    languages: str,
    timeout: float,
    index: int,
    reading: Callable[[Image.Image], OcrResult] | None = None,
) -> OcrResult:
    """``image`` read turned by ``angle``, its words mapped back to ``image``'s frame.

    ``reading`` reads the turned copy (:func:`ocr_image` by default; :func:`ocr_batch` passes the
    reader it already holds).
    """
    source = grey(image)
    turned = source.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    rotation = Rotation(angle, source.size, turned.size)
    read = (reading or (lambda copy: ocr_image(copy, languages=languages, timeout=timeout)))(turned)
    words = [
        OcrWord(
            w.text,
            rotation.bounds(w.box),
            w.confidence,
            (w.line[0] + 100_000 * index, w.line[1], w.line[2]),
            w.box,
            rotation,
        )
        for w in read.words
    ]
    return assemble(words, image.size)


def ocr_at_angles(
    image: Image.Image, angles: Sequence[float], *, languages: str, timeout: float, workers: int = 1
) -> OcrResult:
    """Read ``image`` upright and turned by each of ``angles``; all words in one result."""

    def one(item: tuple[int, float]) -> OcrResult:
        index, angle = item
        if angle == 0:
            return ocr_image(image, languages=languages, timeout=timeout)
        return _read_turned(image, angle, languages=languages, timeout=timeout, index=index)

    items = list(enumerate(dict.fromkeys(angles)))
    if workers > 1 and len(items) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            passes = list(pool.map(one, items))
    else:
        passes = [one(item) for item in items]
    return merge(passes, [angle for _, angle in items], image.size)


def ocr_oriented(image: Image.Image, *, languages: str, timeout: float, workers: int = 1) -> OcrResult:
    """One upright pass, and the turn search when it is weak; see the module docstring."""
    first = ocr_image(image, languages=languages, timeout=timeout)
    if not weak(first):
        return first
    candidates: list[float] = list(SEARCH_ANGLES)
    quarter = detect_quarter_turn(image, timeout=timeout)
    if quarter is not None:
        candidates.insert(0, quarter)

    def one(item: tuple[int, float]) -> OcrResult:
        index, angle = item
        return _read_turned(image, angle, languages=languages, timeout=timeout, index=index)

    items = list(enumerate(candidates, start=1))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        turned = list(pool.map(one, items))
    kept = [(r, a) for r, a in zip(turned, candidates, strict=True) if better(r, first)]
    return merge([first, *(r for r, _ in kept)], [0, *(a for _, a in kept)], image.size)


def merge(passes: Sequence[OcrResult], angles: Sequence[float], size: tuple[int, int]) -> OcrResult:
    """Words of several passes as one text: each pass's lines stay apart."""
    if len(passes) == 1:
        only = passes[0]
        only.angles = tuple(angles)
        return only
    words: list[OcrWord] = []
    for index, result in enumerate(passes):
        # Upright passes come from ocr_image, whose blocks are small numbers; keep them apart too.
        words.extend(
            w
            if w.rotation is not None
            else OcrWord(w.text, w.box, w.confidence, (w.line[0] + 100_000 * index, *w.line[1:]))
            for w in result.words
        )
    merged = assemble(words, size)
    merged.angles = tuple(angles)
    return merged


def parse_tsv(tsv: str, size: tuple[int, int]) -> OcrResult:
    words: list[OcrWord] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            left, top, width, height = (int(c) for c in cols[6:10])
            conf = float(cols[10])
            line = (int(cols[2]), int(cols[3]), int(cols[4]))
        except ValueError:
            continue
        words.append(OcrWord(text, (left, top, left + width, top + height), max(conf, 0.0), line))
    return assemble(words, size)


def assemble(words: Sequence[OcrWord], size: tuple[int, int]) -> OcrResult:
    """Join words into the text the detector reads, keeping each word's span."""
    result = OcrResult(size=size)
    parts: list[str] = []
    cursor = 0
    previous: tuple[int, int, int] | None = None
    for word in words:
        if previous is not None:
            sep = " " if word.line == previous else "\n"
            parts.append(sep)
            cursor += len(sep)
        parts.append(word.text)
        result.words.append(word)
        result.spans.append((cursor, cursor + len(word.text)))
        cursor += len(word.text)
        previous = word.line
    result.text = "".join(parts)
    return result


def split_pages(tsv: str, sizes: Sequence[tuple[int, int]]) -> list[OcrResult]:
    """One result per page of a multi-page TSV; UnsupportedFile unless every page is there, in order.

    Each page must report exactly one page row (level 1) with its own size, so a
    page Tesseract skipped or a reading attributed to the wrong page cannot pass.
    """
    header, *rows = tsv.splitlines() or [""]
    by_page: list[list[str]] = [[] for _ in sizes]
    seen: list[tuple[int, int, int]] = []
    for row in rows:
        cols = row.split("\t")
        if len(cols) < 12:
            continue
        try:
            page = int(cols[1])
        except ValueError:
            raise UnsupportedFile("OCR failed on these images") from None
        if not 1 <= page <= len(sizes):
            raise UnsupportedFile("OCR failed on these images")
        if cols[0] == "1":
            try:
                seen.append((page, int(cols[8]), int(cols[9])))
            except ValueError:
                raise UnsupportedFile("OCR failed on these images") from None
        by_page[page - 1].append(row)
    expected = [(page, width, height) for page, (width, height) in enumerate(sizes, start=1)]
    if seen != expected:
        raise UnsupportedFile("OCR did not read every image it was given")
    return [
        parse_tsv("\n".join([header, *page_rows]), size)
        for page_rows, size in zip(by_page, sizes, strict=True)
    ]


def tessdata_dir() -> str:
    """Where the Tesseract found on PATH keeps its models (the in-process reader loads the same ones)."""
    lines = _list_langs()
    found = re.search(r'"([^"]+)"', lines[0] if lines else "")
    if found is None or not os.path.isdir(found.group(1)):
        raise UnsupportedFile("OCR is not available on this server (no Tesseract language data)")
    return found.group(1)


class _ReaderPool:
    """Tesseract instances loaded in this process, reused run after run.

    Loading ``eng+chi_sim`` in process takes about 0.09 s against 0.26 s for
    each start of the command-line program (measured), which a batch of video
    frames otherwise pays per batch. One instance reads one image at a time
    (the library releases the GIL while it reads, so threads run in parallel,
    each with its own instance). Instances belong to the process that made
    them: a forked sandbox child makes its own and they end with it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[int, str, int], list[Any]] = {}

    def _new(self, languages: str, psm: int) -> Any:
        # One thread per reader: callers already read several images at once (see module docstring).
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            import tesserocr  # noqa: PLC0415  (its models load only where OCR runs)
        except ImportError:
            raise UnsupportedFile("OCR is not available on this server (no tesserocr)") from None
        try:
            return tesserocr.PyTessBaseAPI(
                path=tessdata_dir().rstrip("/") + "/", lang=languages, psm=psm, init=True
            )
        except RuntimeError:
            raise UnsupportedFile(f"OCR could not load its language data ({languages})") from None

    @contextmanager
    def reader(self, languages: str, psm: int) -> Iterator[Any]:
        key = (os.getpid(), languages, psm)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            api = idle.pop() if idle else None
        if api is None:
            api = self._new(languages, psm)
        try:
            yield api
        except BaseException:
            # A reader interrupted mid-page (timeout, error) is not trusted again.
            api.End()
            raise
        with self._lock:
            self._idle.setdefault(key, []).append(api)


_READERS = _ReaderPool()
_TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def ocr_batch(
    images: Sequence[Image.Image],
    *,
    languages: str,
    timeout: float,
    psm: int = 3,
    turns: Sequence[float] = (),
) -> list[OcrResult]:
    """Each of ``images`` read as it stands, by one Tesseract loaded in this process.

    Starting the Tesseract program and loading its models costs more than
    reading a small image (Tesseract 5.3: 0.12 s for ``eng``, 0.26 s for
    ``eng+chi_sim``; loading them in process, 0.09 s; reading a 640x360 video
    frame, about 0.014 s), so images are read by a reader that stays loaded
    (:class:`_ReaderPool`). Each image is a page of its own (the LSTM
    recogniser carries nothing from page to page), with the page segmentation
    ``psm`` and a 300 dpi resolution hint; ``timeout`` bounds the whole batch
    and a page that does not finish in what is left of it fails the batch.

    With ``turns`` (e.g. :data:`QUARTER_TURNS`), an image whose upright
    reading is :func:`unsure` (a word read with doubt, which is what text
    upside down or sideways looks like to Tesseract) is also read turned by
    each of ``turns``, and the turned readings that do better
    (:func:`better`) join its result as in :func:`ocr_oriented`. An image
    with no word at all (blank, or footage without text), or whose words are
    all read surely, costs no extra reading.
    """
    if not images:
        return []
    languages = check_languages(languages)
    deadline = time.monotonic() + timeout
    results: list[OcrResult] = []
    with _READERS.reader(languages, psm) as api:

        def read(page: Image.Image) -> OcrResult:
            remaining = deadline - time.monotonic()
            try:
                api.SetImage(page)
                api.SetSourceResolution(300)
                finished = remaining > 0 and api.Recognize(timeout=max(1, int(remaining * 1000)))
                tsv = api.GetTSVText(0) if finished else ""
            except RuntimeError:
                raise UnsupportedFile("OCR failed on these images") from None
            if not finished:
                raise UnsupportedFile(f"OCR took longer than {timeout:g} seconds")
            return split_pages(f"{_TSV_HEADER}\n{tsv}", [page.size])[0]

        for image in images:
            page = grey(image)
            first = read(page)
            if not turns or not unsure(first):
                results.append(first)
                continue
            turned = [
                (
                    _read_turned(page, angle, languages=languages, timeout=timeout, index=n, reading=read),
                    angle,
                )
                for n, angle in enumerate(turns, start=1)
            ]
            kept = [(r, a) for r, a in turned if better(r, first)]
            results.append(merge([first, *(r for r, _ in kept)], [0, *(a for _, a in kept)], page.size))
    return results
