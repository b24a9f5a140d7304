"""The sanitisation profile: everything outside the page content."""

from __future__ import annotations

import json
from pathlib import Path

import pikepdf

from exchange.domain.redaction.pdf import redact_pdf
from tests.corpus.pdf import SECRET, producer_handmade, producer_reportlab
from tests.integration.pdf.conftest import (
    assert_absent,
    exiftool,
    finder,
    kept_word_boxes,
    pdftotext,
    qdf_dump,
)


def _redact(src: Path, tmp_path: Path, label: str | None = None) -> tuple[Path, dict]:  # type: ignore[type-arg]
    result = redact_pdf(src, find=finder(SECRET, label=label), sensitive_values=[SECRET])
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    return out, result.report


def test_metadata_actions_attachments_layers_structure(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_handmade.everything_else(corpus_dir)
    # Preconditions: the secret really is in these places in the input.
    assert SECRET in exiftool(src)
    src_dump = qdf_dump(src, tmp_path)
    for marker in (
        b"/JavaScript",
        b"/EmbeddedFile",
        b"/OCProperties",
        b"/Thumb",
        b"/PieceInfo",
        b"/AF",
        b"/AA",
    ):
        assert marker in src_dump
    out, report = _redact(src, tmp_path)
    assert_absent(SECRET, out, tmp_path)
    meta = exiftool(out)
    assert "Applicant Alice" not in meta and "Title" not in meta and "Author" not in meta
    dump = qdf_dump(out, tmp_path)
    for marker in (
        b"/JavaScript",
        b"/JS",
        b"/EmbeddedFile",
        b"/OCProperties",
        b"/Thumb",
        b"/PieceInfo",
        b"/AF",
        b"/AA",
        b"/OpenAction",
        b"/Metadata",
        b"/PageLabels",
        b"customers.csv",
    ):
        assert marker not in dump, marker
    text = pdftotext(out)
    # Hidden-by-default layer content is removed; visible layer content stays, in place.
    assert "Hidden layer" not in text and "12 percent" not in text
    assert "Visible layer turbine text." in text
    kept_word_boxes(src, out, "Visible")
    # Structure tree text is redacted, not just dropped.
    with pikepdf.open(out) as pdf:
        elem = pdf.Root.StructTreeRoot.K.K[0]
        assert "plant" in str(elem.Alt) and SECRET not in str(elem.Alt)
    stats = report["sanitisation"]
    assert stats["document_info_removed"] == 1
    assert stats["structure_text_redacted"] >= 2
    assert stats["marked_content_text_redacted"] == 1
    assert report["pages"][0]["hidden_layer_operators_removed"] > 0


def test_outline_annotations_and_form_fields(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_reportlab.outline_annotations_form(corpus_dir)
    with pikepdf.open(src) as pdf:
        assert "/AcroForm" in pdf.Root
        assert len(pdf.pages[0].obj.Annots) >= 3
    out, report = _redact(src, tmp_path, label="[CUSTOMER-1]")
    assert_absent(SECRET, out, tmp_path)
    with pikepdf.open(out) as pdf:
        assert "/AcroForm" not in pdf.Root
        with pdf.open_outline() as outline:
            titles = [item.title for item in outline.root]
        assert titles == ["Annex for [CUSTOMER-1]"]
        annots = list(pdf.pages[0].obj.get("/Annots", []))
        # Only the link survives, with its URI action and nothing else.
        assert [str(a.Subtype) for a in annots] == ["/Link"]
        assert set(annots[0].keys()) <= {
            "/Type",
            "/Subtype",
            "/Rect",
            "/Border",
            "/BS",
            "/C",
            "/H",
            "/F",
            "/A",
            "/QuadPoints",
        }
    stats = report["sanitisation"]
    assert stats["bookmark_titles_redacted"] == 1
    assert stats["form_fields_flattened_and_removed"] == 1
    # The form value was flattened into the page and its glyphs removed like page text.
    assert report["pages"][0]["redactions"]["CUSTOMER"] >= 1
    assert "Contract for the turbine" in pdftotext(out)


def test_incremental_history_is_dropped(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_handmade.incremental_update(corpus_dir)
    data = src.read_bytes()
    assert data.count(b"%%EOF") == 2 and b"Draft for " + SECRET.encode() in data
    out, _ = _redact(src, tmp_path)
    out_data = out.read_bytes()
    assert out_data.count(b"%%EOF") == 1
    assert b"/Prev" not in out_data
    dump = qdf_dump(out, tmp_path)
    assert b"Draft" not in dump and SECRET.encode() not in dump
    assert "Final for the customer turbine" in pdftotext(out)


def test_annotation_appearance_is_flattened_and_redacted(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_handmade.annotation_appearance(corpus_dir)
    assert SECRET in pdftotext(src)
    out, report = _redact(src, tmp_path)
    assert_absent(SECRET, out, tmp_path)
    text = pdftotext(out)
    assert "Note:" in text and "turbine" in text
    kept_word_boxes(src, out, "Note:")
    with pikepdf.open(out) as pdf:
        assert "/Annots" not in pdf.pages[0].obj
    assert report["sanitisation"]["annotations_flattened"] == 1
    assert report["pages"][0]["redactions"] == {"CUSTOMER": 1}
