"""Fixtures and independent checkers for the PDF redaction tests.

Every check here uses a tool other than the engine's own reader: poppler's
pdftotext (text and word boxes), pypdfium2, qpdf's QDF dump (every stream
decompressed, object streams disabled) and exiftool.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.normalise import fold


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdf_corpus")


def finder(
    *patterns: str, label: str | None = None, entity: str = "CUSTOMER"
) -> Callable[[str], Sequence[Redaction]]:
    """A stand-in for the detector: regex spans (whitespace-tolerant)."""
    compiled = [re.compile(r"\s*".join(re.escape(w) for w in p.split())) for p in patterns]

    def find(text: str) -> Sequence[Redaction]:
        return [Redaction(m.start(), m.end(), entity, label) for rx in compiled for m in rx.finditer(text)]

    return find


def pdftotext(path: Path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", *args, str(path), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()


def words(path: Path) -> list[tuple[str, float, float, float, float, int]]:
    """(word, xmin, ymin, xmax, ymax, page) from ``pdftotext -bbox``."""
    html = pdftotext(path, "-bbox")
    out = []
    page = 0
    for line in html.splitlines():
        if "<page " in line:
            page += 1
        m = re.search(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', line
        )
        if m:
            out.append(
                (m.group(5), float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)), page)
            )
    return out


def pdfium_text(path: Path) -> str:
    doc = pdfium.PdfDocument(str(path))
    try:
        parts = []
        for i in range(len(doc)):
            page = doc[i]
            tp = page.get_textpage()
            parts.append(tp.get_text_range())
            tp.close()
            page.close()
        return "\n".join(parts)
    finally:
        doc.close()


def pdfium_char_boxes(path: Path, page_index: int = 0) -> list[tuple[str, float, float, float, float]]:
    doc = pdfium.PdfDocument(str(path))
    try:
        page = doc[page_index]
        tp = page.get_textpage()
        out = [(tp.get_text_range(i, 1), *tp.get_charbox(i)) for i in range(tp.count_chars())]
        tp.close()
        page.close()
        return out
    finally:
        doc.close()


def qdf_dump(path: Path, tmp: Path) -> bytes:
    """Every object and decompressed stream as qpdf sees them."""
    out = tmp / (path.stem + ".qdf.pdf")
    subprocess.run(
        ["qpdf", "--qdf", "--object-streams=disable", "--decode-level=generalized", str(path), str(out)],
        check=False,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


def exiftool(path: Path) -> str:
    return subprocess.run(
        ["exiftool", "-a", "-G1", str(path)], check=True, capture_output=True, timeout=60
    ).stdout.decode()


def assert_absent(value: str, out: Path, tmp: Path) -> None:
    """``value`` is in none of: pdftotext, pdfium text, the QDF dump (folded or raw), exiftool."""
    needle = fold(value)
    compact = needle.replace(" ", "")
    for name, text in (
        ("pdftotext", pdftotext(out)),
        ("pdfium", pdfium_text(out)),
        ("exiftool", exiftool(out)),
    ):
        folded = fold(text)
        assert needle not in folded and compact not in folded.replace(" ", ""), f"{value!r} found by {name}"
    dump = qdf_dump(out, tmp).lower()
    assert value.lower().encode() not in dump
    assert value.lower().replace(" ", "").encode() not in dump.replace(b" ", b"")
    assert value.encode("utf-16-be").lower() not in dump


def kept_word_boxes(before: Path, after: Path, word: str) -> None:
    """Every occurrence of ``word`` survives at the same place (±0.05 pt)."""
    old = [w for w in words(before) if w[0] == word]
    new = [w for w in words(after) if w[0] == word]
    assert old, f"{word!r} not in the original"
    assert len(new) == len(old), f"{word!r}: {len(old)} before, {len(new)} after"
    for a, b in zip(
        sorted(old, key=lambda w: (w[5], w[2], w[1])),
        sorted(new, key=lambda w: (w[5], w[2], w[1])),
        strict=True,
    ):
        assert all(abs(x - y) < 0.05 for x, y in zip(a[1:5], b[1:5], strict=True)), (a, b)


def rendered_ocr(path: Path, tmp: Path, page: int = 1) -> str:
    """poppler's render of ``page`` read by the tesseract program: what a recipient sees."""
    prefix = tmp / f"{path.stem}-p{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-png",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(path),
            str(prefix),
        ],
        check=True,
        timeout=120,
    )
    return subprocess.run(
        ["tesseract", f"{prefix}.png", "stdout", "-l", "eng"], check=True, capture_output=True, timeout=120
    ).stdout.decode()


def shows(text: str, value: str) -> bool:
    """``value`` in ``text``, compared folded and without spaces (OCR splits and joins words)."""
    return fold(value).replace(" ", "") in fold(text).replace(" ", "")
