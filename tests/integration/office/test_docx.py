"""DOCX end to end with the real detector; outputs read back by unzip-level scans, python-docx,
LibreOffice (txt and PDF via pdftotext) and Tesseract."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from PIL import Image

from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.detection.policy import Policy
from exchange.domain.redaction.base import RedactionResult
from exchange.domain.redaction.office.docx import DOCX, DocxEngine
from exchange.domain.redaction.text import BOX
from tests.corpus import office as corpus
from tests.integration.office.conftest import LIMITS, assert_no_customer, redact, soffice_text, tesseract

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def docx_file(office_dir: Path) -> Path:
    return corpus.make_docx(office_dir / "full.docx")


@pytest.fixture(scope="session")
def results(docx_file: Path, detector: Detector, policy: Policy) -> dict[str, RedactionResult]:
    return redact(DocxEngine(), docx_file, detector, policy, ("supplier", "bureau"))


@pytest.fixture(scope="session")
def supplier_file(results: dict[str, RedactionResult], office_dir: Path) -> Path:
    result = results["supplier"]
    assert result.ok, result.report
    assert result.data is not None
    path = office_dir / "full-supplier.docx"
    path.write_bytes(result.data)
    return path


def test_engine_sniffs_docx(docx_file: Path) -> None:
    data = docx_file.read_bytes()
    assert DocxEngine().sniff(data[:8192], io.BytesIO(data)) == DOCX


def test_no_part_holds_the_customer_in_any_case(results: dict[str, RedactionResult]) -> None:
    for result in results.values():
        assert result.ok, result.report
        assert result.data is not None
        assert_no_customer(result.data)


def test_report_counts_kinds_without_text(results: dict[str, RedactionResult]) -> None:
    report = results["supplier"].report
    assert report["verification"]["passed"]
    assert report["counts"]["CUSTOMER"] >= 15
    sanitised = report["sanitised"]
    for kind in (
        "thumbnail",
        "macros",
        "ole_objects",
        "custom_properties",
        "core_properties",
        "app_properties",
        "external_attachedTemplate",
        "tracked_deletions_removed",
        "tracked_insertions_accepted",
        "authors_anonymised",
    ):
        assert sanitised.get(kind), kind
    assert "kestrel" not in repr(report).casefold()


def test_risky_parts_are_gone(supplier_file: Path) -> None:
    with zipfile.ZipFile(supplier_file) as archive:
        names = archive.namelist()
        document = archive.read("word/document.xml").decode()
        settings = archive.read("word/settings.xml").decode()
        rels = archive.read("word/_rels/document.xml.rels").decode()
    assert not [
        n for n in names if "vba" in n or "embeddings" in n or "thumbnail" in n or "custom" in n.lower()
    ]
    assert "w:object" not in document
    assert "w:del " not in document and "w:delText" not in document
    assert "w:ins " not in document
    assert "attachedTemplate" not in settings
    assert "mailto:" not in rels
    assert 'TargetMode="External"' not in rels


def test_structure_is_kept(docx_file: Path, supplier_file: Path) -> None:
    before, after = docx.Document(str(docx_file)), docx.Document(str(supplier_file))
    assert len(after.paragraphs) == len(before.paragraphs)
    assert len(after.tables) == len(before.tables) == 1
    assert after.tables[0].cell(1, 1).text == corpus.KEPT
    assert after.tables[0].cell(0, 1).text == BOX
    assert after.sections[0].header.paragraphs[0].text == f"Confidential: {BOX}"
    split = after.paragraphs[1]
    assert split.text == f"Ordered by {BOX} for {corpus.KEPT} magnets."
    assert [r.bold for r in split.runs][:2] == [None, True]
    comments = list(after.comments)
    assert len(comments) == 1
    assert comments[0].author == "Author"
    assert BOX in comments[0].text


def test_libreoffice_reads_the_output_without_the_customer(supplier_file: Path) -> None:
    text = soffice_text(supplier_file)
    assert "kestrel" not in text.casefold()
    assert corpus.KEPT in text
    pdf_text = soffice_text(supplier_file, "pdf")
    assert "kestrel" not in pdf_text.casefold()
    # LibreOffice's text export leaves text boxes out; its PDF draws them.
    assert f"Box for {BOX}" in pdf_text
    assert "Closing line about" in pdf_text


def test_embedded_picture_is_redacted_or_removed(
    docx_file: Path, results: dict[str, RedactionResult], office_dir: Path
) -> None:
    with zipfile.ZipFile(docx_file) as archive:
        original = archive.read("word/media/image1.png")
    assert "Kestrel" in tesseract(original, office_dir, "label-in.png")
    for recipient, result in results.items():
        assert result.data is not None
        with zipfile.ZipFile(io.BytesIO(result.data)) as archive:
            picture = archive.read("word/media/image1.png")
        assert "kestrel" not in tesseract(picture, office_dir, f"label-{recipient}.png").casefold()
        if recipient == "bureau":
            with Image.open(io.BytesIO(picture)) as image:
                assert all(lo == hi for lo, hi in image.convert("RGB").getextrema())


def test_a_leak_the_plan_misses_withholds_the_file(docx_file: Path) -> None:
    engine = DocxEngine()
    document = engine.read(docx_file, LIMITS)
    blind = RecipientPlan(
        "supplier", find=lambda _text: [], sensitive_values=[corpus.CUSTOMER], images="keep"
    )
    result = engine.redact(document, blind)
    assert not result.ok
    assert result.data is None
    assert result.report["withheld"] == "verification found redacted content in the output"
    assert result.report["verification"]["leaks"]


def test_unknown_binary_parts_are_removed_and_reported(docx_file: Path, office_dir: Path) -> None:
    odd = corpus.rewrite_zip(
        docx_file, {"word/blob.dat": b"\x00\x01Kestrel Dynamics GmbH"}, office_dir / "odd.docx"
    )
    document = DocxEngine().read(odd, LIMITS)
    assert (
        document.facts["sanitised"]["orphan_parts"] >= 1 or document.facts["sanitised"]["unknown_parts"] >= 1
    )
    assert "word/blob.dat" not in document.package.parts  # type: ignore[attr-defined]


def test_libreoffice_docx(libreoffice_files: dict[str, Path], detector: Detector, policy: Policy) -> None:
    path = libreoffice_files["docx"]
    source = docx.Document(str(path))
    (result,) = redact(DocxEngine(), path, detector, policy, ("supplier",)).values()
    assert result.ok, result.report
    assert result.data is not None
    assert_no_customer(result.data)
    out = path.with_name("lo-supplier.docx")
    out.write_bytes(result.data)
    redacted = docx.Document(str(out))
    assert len(redacted.paragraphs) == len(source.paragraphs)
    assert len(redacted.tables) == len(source.tables) == 1
    text = soffice_text(out)
    assert "kestrel" not in text.casefold()
    assert corpus.KEPT in text
