"""A customer name drawn letter by letter is still a leak when ``find`` misses it.

The trick file draws each glyph as its own ``Tj`` under ``Tc`` character
spacing: pdftotext and pdfium read "A c m e", and no byte sequence of the file
spells the name, so only the verifier's letter-spaced view can catch it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pikepdf
import pytest

from exchange.domain.redaction.pdf import redact_pdf
from tests.corpus.pdf.producer_handmade import helvetica
from tests.integration.pdf.conftest import finder, pdfium_text, pdftotext

SHORT = "Acme"  # shorter than the verifier's compact form: searched at word boundaries only
LONG = "Kestrel Dynamics"


def _glyph_by_glyph(text: str) -> str:
    """One ``Tj`` per glyph, 6 units of ``Tc`` apart; a word gap is a wider-spaced space glyph."""
    return " ".join("14 Tc ( ) Tj 6 Tc" if ch == " " else f"({ch}) Tj" for ch in text)


@pytest.fixture(scope="module")
def spaced_pdf(corpus_dir: Path) -> Path:
    pdf = pikepdf.new()
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf)))
    contents = [
        "BT /F1 12 Tf 72 720 Td (Delivery note for the turbine assembly.) Tj ET",
        "BT /F1 12 Tf 72 720 Td (Shipped to:) Tj ET\n"
        f"BT /F1 12 Tf 6 Tc 72 690 Td {_glyph_by_glyph(SHORT)} 0 Tc ET\n"
        f"BT /F1 12 Tf 6 Tc 72 660 Td {_glyph_by_glyph(LONG)} 0 Tc ET\n"
        "BT /F1 12 Tf 72 630 Td (Walked along a cloak ridge with the turbine.) Tj ET",
    ]
    for content in contents:
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 612, 792],
            Contents=pdf.make_stream(content.encode()),
            Resources=resources,
        )
        pdf.pages.append(pikepdf.Page(page))
    path = corpus_dir / "letter_spaced.pdf"
    pdf.save(path)
    return path


def test_extractors_read_the_names_letter_spaced(spaced_pdf: Path) -> None:
    poppler = pdftotext(spaced_pdf)
    assert "A c m e" in poppler
    assert "K e s t r e l" in poppler and "D y n a m i c s" in poppler
    assert "A c m e" in pdfium_text(spaced_pdf)
    # No byte form of the short name exists: only the letter-spaced reading shows it.
    with pikepdf.open(spaced_pdf) as pdf:
        content = b"".join(page.Contents.read_bytes() for page in pdf.pages)
    assert b"acme" not in content.lower().translate(None, b" \t\r\n")


@pytest.mark.parametrize(("values", "index"), [([SHORT], 0), ([LONG], 0), (["Brightwater Optics", SHORT], 1)])
def test_missed_letter_spaced_name_fails_closed(spaced_pdf: Path, values: list[str], index: int) -> None:
    result = redact_pdf(spaced_pdf, find=finder("no such customer"), sensitive_values=values)
    assert not result.ok
    assert result.data is None
    leaks = {(leak.page, leak.kind, leak.value_index) for leak in result.leaks}
    assert (2, "page_text", index) in leaks, leaks
    assert all(leak.page != 1 for leak in result.leaks)


def test_caught_letter_spaced_names_pass(spaced_pdf: Path, tmp_path: Path) -> None:
    find = finder("A c m e", "K e s t r e l D y n a m i c s")
    result = redact_pdf(spaced_pdf, find=find, sensitive_values=[SHORT, LONG])
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    text = pdftotext(out)
    assert "A c m e" not in text and "K e s t r e l" not in text
    assert "cloak ridge" in text  # ordinary text is kept
