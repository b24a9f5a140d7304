"""Redaction of LibreOffice Writer PDFs, checked with independent tools.

LibreOffice 7.4 writes its own TrueType subsets (simple ``/TrueType`` fonts
with a private encoding and a ToUnicode map) and converts OpenType/CFF fonts
to Type1 subsets; customer names sit in body text, a table cell, the
header and footer on every page, a hyperlink (text and URI), a footnote, a
comment (exported as a text annotation), an outline entry and the document
metadata (Info dictionary, and XMP for PDF/A). The documents are generated
by ``soffice`` once per module; a missing LibreOffice fails, it never skips.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pikepdf
import pytest

from exchange.domain.detection import load_policy, redactions_for, sensitive_values
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.pdf import extract_pdf_text, redact_pdf
from tests.corpus.pdf import producer_libreoffice
from tests.corpus.pdf.producer_libreoffice import CUSTOMER, CUSTOMER_UMLAUT, CUSTOMER_URL, CUSTOMERS
from tests.integration.pdf.conftest import assert_absent, kept_word_boxes, pdftotext

pytestmark = pytest.mark.slow

#: Fragments that must be gone as well: single words of the names and the URL's form.
FRAGMENTS = ("Kestrel", "Magnettechnik", "Kestrel-Dynamics-GmbH")
SENSITIVE = [*CUSTOMERS, *FRAGMENTS]

#: Neighbouring words (in pdftotext's word split) that must survive at the same place.
KEPT = [
    "Prepared",
    "Bremen.",
    "Stuttgart",
    "gearbox",
    "Quantity",
    "turbine",
    "today.",
    "design",
    "1Supplied",
    "licence.",
    "pays",
    "within",
    "freight,",
    "signed;",
    "share",
    "crane.",
    "Confidential",
    "repeats",
    "Terms",
]


def customer_finder(
    names: Sequence[str] = (*CUSTOMERS, "Kestrel-Dynamics-GmbH"),
) -> Callable[[str], Sequence[Redaction]]:
    """Case-insensitive search for the declared names (any whitespace between words)."""
    parts = [r"\s+".join(re.escape(w) for w in name.split()) for name in names]
    rx = re.compile("|".join(parts), re.IGNORECASE)

    def find(text: str) -> Sequence[Redaction]:
        return [Redaction(m.start(), m.end(), "CUSTOMER") for m in rx.finditer(text)]

    return find


@pytest.fixture(scope="module")
def lo_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("soffice") is None:
        pytest.fail(
            "soffice not found: install Debian's libreoffice-writer-nogui to run the LibreOffice PDF tests"
        )
    return producer_libreoffice.convert_all(tmp_path_factory.mktemp("libreoffice"))


def _write(out: Path, data: bytes | None) -> Path:
    assert data is not None
    out.write_bytes(data)
    return out


def test_soffice_is_installed() -> None:
    assert shutil.which("soffice"), "soffice not found: install Debian's libreoffice-writer-nogui"


def test_corpus_has_names_in_every_place(lo_pdfs: dict[str, Path]) -> None:
    """Guard the corpus: if LibreOffice stops exporting a place, the redaction tests prove less."""
    src = lo_pdfs["everywhere"]
    pages = extract_pdf_text(src)
    assert len(pages) == 2
    for page in pages:  # header and footer repeat on every page
        assert f"Prepared for {CUSTOMER}" in page
        assert f"Confidential to {CUSTOMER_UMLAUT}" in page
    for line in (
        f"{CUSTOMER} turbine 4",  # table cell
        f"the portal of {CUSTOMER} today",  # link text
        f"Supplied by {CUSTOMER_UMLAUT} under",  # footnote
        f"Nimbus line: {CUSTOMER} and {CUSTOMER_UMLAUT}",
    ):
        assert line in pages[0]
    with pikepdf.open(src) as pdf:
        fonts = {
            (str(f.Subtype), "/ToUnicode" in f, next(k for k in f.FontDescriptor if "FontFile" in k))
            for f in pdf.pages[0].Resources.Font.values()
        }
        assert ("/TrueType", True, "/FontFile2") in fonts
        assert ("/Type1", True, "/FontFile") in fonts  # Nimbus Sans (CFF) converted by LibreOffice
        with pdf.open_outline() as outline:
            assert [item.title for item in outline.root] == [f"Annex for {CUSTOMER}", "Terms"]
        annots = list(pdf.pages[0].Annots)
        assert any(str(a.get("/Contents", "")) == f"Check the quote of {CUSTOMER} again" for a in annots)
        uris = [str(a.A.URI) for a in annots if "/A" in a and a.A.get("/S") == "/URI"]
        assert uris == [CUSTOMER_URL]
        assert str(pdf.docinfo["/Title"]) == f"Orders for {CUSTOMER}"
        assert str(pdf.docinfo["/Author"]) == CUSTOMER_UMLAUT
    with pikepdf.open(lo_pdfs["pdfa"]) as pdf:
        xmp = bytes(pdf.Root.Metadata.read_bytes()).decode()
        assert CUSTOMER in xmp and CUSTOMER_UMLAUT in xmp


@pytest.mark.parametrize("doc", ["everywhere", "pdfa"])
def test_names_removed_everywhere_neighbours_kept(doc: str, lo_pdfs: dict[str, Path], tmp_path: Path) -> None:
    src = lo_pdfs[doc]
    result = redact_pdf(src, find=customer_finder(), sensitive_values=SENSITIVE)
    assert result.ok, json.dumps(result.report)
    out = _write(tmp_path / "out.pdf", result.data)
    for value in SENSITIVE:
        assert_absent(value, out, tmp_path)
    for word in KEPT:
        kept_word_boxes(src, out, word)
    report = result.report
    # 7 on page 1 in text, 3 in the Nimbus/two-style lines, header/footer on both pages.
    assert report["counts"]["CUSTOMER"] >= 14
    assert report["sanitisation"]["uri_actions_removed_for_redaction"] == 1
    assert report["sanitisation"]["bookmark_titles_redacted"] == 1
    assert not any(name in json.dumps(report) for name in SENSITIVE)
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 2
        assert "/Metadata" not in pdf.Root
        with pdf.open_outline() as outline:
            titles = [item.title for item in outline.root]
        assert titles[1] == "Terms" and titles[0].startswith("Annex for")
        for annot in pdf.pages[0].get("/Annots", []):
            assert annot.get("/Subtype") != "/Text"  # the comment is gone
            if "/A" in annot:
                assert annot.A.get("/S") != "/URI"  # the customer's URL is gone
    data = out.read_bytes()
    assert data.count(b"%%EOF") == 1 and b"/Prev" not in data


def test_rasterize_mode(lo_pdfs: dict[str, Path], tmp_path: Path) -> None:
    src = lo_pdfs["everywhere"]
    result = redact_pdf(src, find=customer_finder(), sensitive_values=SENSITIVE, mode="rasterize")
    assert result.ok, json.dumps(result.report)
    assert result.report["rasterized_pages"] == [1, 2]
    out = _write(tmp_path / "out.pdf", result.data)
    for value in SENSITIVE:
        assert_absent(value, out, tmp_path)
    text = pdftotext(out)
    assert "Stuttgart" in text and "turbine" in text  # the invisible text layer survives
    with pikepdf.open(out) as pdf:
        for page in pdf.pages:
            images = [v for v in page.Resources.XObject.values() if v.get("/Subtype") == "/Image"]
            assert len(images) == 1
            fonts = [str(f.get("/BaseFont")) for f in page.Resources.get("/Font", {}).values()]
            assert not any("DejaVu" in f or "Nimbus" in f for f in fonts)


def test_letter_spaced_name_fails_closed_with_a_word_finder(lo_pdfs: dict[str, Path]) -> None:
    """LibreOffice's letter-spacing (a -0.2 em TJ kern after each glyph) reads as spaced letters.

    The engine (like poppler) reads ``M ü l l e r ...``, so a word-level finder misses the
    name; pdfium reads it whole, so verification must catch it and nothing is released.
    """
    src = lo_pdfs["spaced"]
    (page,) = extract_pdf_text(src)
    assert CUSTOMER_UMLAUT not in page
    assert "M ü l l e r" in page

    missed = redact_pdf(src, find=customer_finder(), sensitive_values=SENSITIVE)
    assert not missed.ok and missed.data is None
    leaked = {SENSITIVE[leak.value_index] for leak in missed.leaks if leak.kind == "page_text"}
    assert leaked == {CUSTOMER_UMLAUT, "Magnettechnik"}
    assert not any(name in json.dumps(missed.report) for name in SENSITIVE)


def test_letter_spaced_name_redacted_by_the_detector(lo_pdfs: dict[str, Path], tmp_path: Path) -> None:
    """The real detector finds the letter-spaced name, so the file is released, name-free.

    Wired as the processing service does it: the finder scans each text the engine hands
    over, and the verifier gets the detector's sensitive values, which include every
    declared name (whole, not spaced), so pdfium's whole-word reading is checked too.
    """
    policy = load_policy(
        "version: 1\nname: letter-spaced letterhead\n"
        f"terms: {{customers: {json.dumps(list(CUSTOMERS))}}}\n"
        "recipients:\n  bureau: {redact: [CUSTOMER]}\n"
    )
    detector = Detector(policy)
    src = lo_pdfs["spaced"]
    (page,) = extract_pdf_text(src)
    findings = detector.scan(page)
    spaced = [f for f in findings if f.term == CUSTOMER_UMLAUT]
    assert [(f.text, f.entity_type, f.score) for f in spaced] == [
        ("M ü l l e r M a g n e t t e c h n i k A G", "CUSTOMER", 1.0)
    ]
    sensitive = sensitive_values(findings, "bureau", policy)
    assert CUSTOMER_UMLAUT in sensitive

    def find(text: str) -> Sequence[Redaction]:
        return redactions_for(detector.scan(text), "bureau", policy)

    found = redact_pdf(src, find=find, sensitive_values=sensitive)
    assert found.ok, json.dumps(found.report)
    assert found.report["counts"]["CUSTOMER"] == 2  # the plain name and the spaced one
    out = _write(tmp_path / "out.pdf", found.data)
    for value in SENSITIVE:
        assert_absent(value, out, tmp_path)
    for word in ("Letterhead", "of", "gearbox.", "Bremen.", "turbine"):
        kept_word_boxes(src, out, word)
