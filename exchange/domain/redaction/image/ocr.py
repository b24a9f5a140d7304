"""OCR of pixels with Tesseract: words, their boxes and confidences, and a text to scan.

Tesseract runs as a child process reading the image from standard input and
writing TSV to standard output: no plaintext image touches the disk, a hang
is ended by a timeout, and a crash cannot take the worker down. It is told to
use one thread (``OMP_THREAD_LIMIT=1``) because the callers run several
images in parallel; one multi-threaded Tesseract per core only thrashes.

Invariants:

* :attr:`OcrResult.text` is built from the words only, so every character of
  it maps back to exactly one word box (``spans``); a detector finding over
  that text becomes pixel boxes through :meth:`OcrResult.boxes_for`.
* A failed or timed-out run raises :class:`UnsupportedFile`; a caller never
  mistakes "OCR did not run" for "OCR found nothing".
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from PIL import Image

from exchange.domain.errors import UnsupportedFile

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels, right/bottom exclusive


@dataclass(frozen=True, slots=True)
class OcrWord:
    text: str
    box: Box
    #: Tesseract's word confidence, 0-100
    confidence: float
    #: (block, paragraph, line): words of one line share it
    line: tuple[int, int, int]


@dataclass(slots=True)
class OcrResult:
    words: list[OcrWord] = field(default_factory=list)
    #: words joined: one space within a line, a line break between lines
    text: str = ""
    #: character range of each word in ``text``, parallel to ``words``
    spans: list[tuple[int, int]] = field(default_factory=list)
    #: size of the image that was read
    size: tuple[int, int] = (0, 0)

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


def union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


@cache
def tesseract_path() -> str:
    path = shutil.which("tesseract")
    if path is None:
        raise UnsupportedFile("OCR is not available on this server (tesseract is not installed)")
    return path


@cache
def installed_languages() -> frozenset[str]:
    try:
        out = subprocess.run(  # noqa: S603  (fixed argv, no shell)
            [tesseract_path(), "--list-langs"], capture_output=True, timeout=30, check=False
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())


def check_languages(languages: str) -> str:
    """``languages`` ("eng+chi_sim") when all are installed, else UnsupportedFile naming the missing."""
    wanted = [lang for lang in languages.split("+") if lang]
    missing = [lang for lang in wanted if lang not in installed_languages()]
    if not wanted or missing:
        raise UnsupportedFile(
            f"OCR language data missing on this server: {', '.join(missing) or '(none set)'}"
        )
    return "+".join(wanted)


def _encode(image: Image.Image) -> bytes:
    if image.mode not in ("1", "L", "RGB"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    # PNG keeps pixels exact and is fast at level 1; Tesseract decodes it with leptonica.
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def ocr_image(image: Image.Image, *, languages: str, timeout: float, psm: int = 3) -> OcrResult:
    """Run Tesseract on ``image``; see the module docstring."""
    argv = [tesseract_path(), "stdin", "stdout", "-l", check_languages(languages), "--psm", str(psm)]
    # A DPI hint stops Tesseract guessing from pixels (and printing about it).
    argv += ["--dpi", "300", "tsv"]
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
    return parse_tsv(proc.stdout.decode("utf-8", "replace"), image.size)


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
