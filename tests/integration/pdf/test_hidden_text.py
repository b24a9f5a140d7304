"""Text hidden from view (colour, clipping, size, paint over it) is removed and reported."""

from __future__ import annotations

import json
from pathlib import Path

import pikepdf
import pytest

from exchange.domain.redaction.pdf import extract_pdf_text, redact_pdf
from exchange.domain.redaction.pdf.engine import verify_output
from exchange.domain.redaction.pdf.limits import PdfLimits
from tests.corpus.pdf import SECRET, producer_hidden
from tests.corpus.pdf.producer_hidden import HIDDEN, TRICKS, UNREAD_TEXT, VISIBLE_CONTROLS
from tests.integration.pdf.conftest import assert_absent, finder, kept_word_boxes, pdfium_text, words

_KIND = {
    "white_gray": "same_colour",
    "white_rgb": "same_colour",
    "white_cmyk": "same_colour",
    "white_sc_rgb": "same_colour",
    "white_scn_cmyk": "same_colour",
    "white_icc_gray": "same_colour",
    "white_secret": "same_colour",
    "same_colour_as_box": "same_colour",
    "clipped_away": "clipped",
    "clipped_evenodd_hole": "clipped",
    "tiny_font": "tiny",
    "zero_font": "tiny",
    "squeezed_tz": "tiny",
    "tiny_matrix": "tiny",
    "under_shading": "under_paint",
    "under_shading_clipped": "under_paint",
    "under_polygon": "under_paint",
    "under_curve": "under_paint",
    "under_rect_and_path": "under_paint",
    "transparent": "transparent",
    "separation_none": "no_ink",
    "invisible_mode_no_image": "invisible_mode",
    "outside_form_bbox": "clipped",
}


@pytest.fixture(scope="module")
def tricks(corpus_dir: Path) -> Path:
    return producer_hidden.hidden_tricks(corpus_dir)


@pytest.fixture(scope="module")
def redacted(tricks: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:  # type: ignore[type-arg]
    result = redact_pdf(tricks, find=finder(SECRET), sensitive_values=[SECRET, HIDDEN])
    assert result.ok, json.dumps(result.report)
    out = tmp_path_factory.mktemp("hidden") / "out.pdf"
    assert result.data is not None
    out.write_bytes(result.data)
    return result.report, out


def test_every_trick_hides_text_that_extractors_still_read(tricks: Path) -> None:
    # Without the fix the engine kept all of this; pdfium proves the input really carries it.
    assert set(_KIND) == set(TRICKS)
    texts = extract_pdf_text(tricks)
    for name, text in zip(TRICKS, texts, strict=True):
        assert (SECRET if name == "white_secret" else HIDDEN) in text, name
    # pdfium (an independent reader) sees all of it except the zero-size text.
    assert pdfium_text(tricks).count(HIDDEN) == len(TRICKS) - 2


def test_hidden_text_is_removed_and_reported_by_kind(
    redacted: tuple[dict, Path],  # type: ignore[type-arg]
    tricks: Path,
    tmp_path: Path,
) -> None:
    report, out = redacted
    assert_absent(HIDDEN, out, tmp_path)
    assert_absent(SECRET, out, tmp_path)
    for name, page in zip(TRICKS, report["pages"], strict=True):
        assert _KIND[name] in page["hidden_text_kinds"], (name, page)
        if name == "white_secret":
            assert page["hidden_text_matched"] == len(SECRET)
        else:
            assert page["hidden_text_unmatched"] >= len(HIDDEN.replace(" ", "")), (name, page)
            assert page["warnings"], name
        # Nothing visible was there, so no redaction box is drawn.
        assert page["boxes"] == 0, name
    assert HIDDEN not in json.dumps(report)
    kept_word_boxes(tricks, out, "turbine.")


def test_visible_lookalikes_are_kept(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_hidden.visible_controls(corpus_dir)
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert result.ok, json.dumps(result.report)
    for name, page in zip(VISIBLE_CONTROLS, result.report["pages"], strict=True):
        assert page["hidden_text_unmatched"] == 0, (name, page)
    out = tmp_path / "out.pdf"
    assert result.data is not None
    out.write_bytes(result.data)
    assert len([w for w in words(out) if w[0] == "Visible"]) == 2 * len(VISIBLE_CONTROLS)
    kept_word_boxes(src, out, "turbine")


@pytest.mark.parametrize("trick", ["white_rgb", "clipped_away", "tiny_font", "under_polygon"])
def test_verifier_fails_a_page_that_still_hides_text(trick: str, tmp_path: Path) -> None:
    src = producer_hidden.trick_pages(tmp_path, {trick: TRICKS[trick]}, trick)
    leaks = verify_output(src.read_bytes(), [], {}, [1], PdfLimits())
    assert {leak.kind for leak in leaks} & {"hidden_text", "text_under_box"}, trick


def test_down_and_rollover_appearances_do_not_survive(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_hidden.appearance_states(corpus_dir)
    with pikepdf.open(src) as pdf:  # the trick is really in the input
        assert sum(1 for a in pdf.pages[0].Annots if "/D" in a.AP and "/R" in a.AP) == 3
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET, HIDDEN])
    assert result.ok, json.dumps(result.report)
    out = tmp_path / "out.pdf"
    assert result.data is not None
    out.write_bytes(result.data)
    assert_absent(HIDDEN, out, tmp_path)
    assert_absent(SECRET, out, tmp_path)
    with pikepdf.open(out) as pdf:
        assert not any(isinstance(o, pikepdf.Dictionary) and "/AP" in o for o in pdf.objects), (
            "an annotation appearance dictionary was kept"
        )
    kept_word_boxes(src, out, "turbine.")


def test_actual_text_in_named_properties_is_redacted(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_hidden.named_properties(corpus_dir)
    # pdfium reads the named /ActualText as the page's text: the trick is visible to extractors.
    assert SECRET in pdfium_text(src)
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert result.ok, json.dumps(result.report)
    assert result.report["sanitisation"]["marked_content_text_redacted"] == 2
    out = tmp_path / "out.pdf"
    assert result.data is not None
    out.write_bytes(result.data)
    assert_absent(SECRET, out, tmp_path)
    assert "Buyer [REDACTED]" in pdfium_text(out)
    kept_word_boxes(src, out, "turbine.")


def test_xobjects_nothing_paints_are_dropped(corpus_dir: Path, tmp_path: Path) -> None:
    src = producer_hidden.unused_xobjects(corpus_dir)
    # Nothing shows the hidden form or the inner secret; only a raw look at the file finds them.
    assert HIDDEN not in pdfium_text(src) and SECRET not in pdfium_text(src)
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET, HIDDEN])
    assert result.ok, json.dumps(result.report)
    assert result.report["pages"][0]["unused_resources_removed"] == 3
    out = tmp_path / "out.pdf"
    assert result.data is not None
    out.write_bytes(result.data)
    assert_absent(HIDDEN, out, tmp_path)
    assert_absent(SECRET, out, tmp_path)
    with pikepdf.open(out) as pdf:
        assert not any(isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image" for o in pdf.objects)
    kept_word_boxes(src, out, "turbine.")
    kept_word_boxes(src, out, "turbine")


@pytest.mark.parametrize("trick", sorted(UNREAD_TEXT))
def test_text_in_pattern_cells_and_soft_masks_fails_closed(trick: str, tmp_path: Path) -> None:
    src = producer_hidden.trick_pages(tmp_path, {trick: UNREAD_TEXT[trick]}, trick)
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert not result.ok and result.data is None
    (page,) = result.report["pages"]
    assert page["status"] == "failed"
    assert "draws text, which is not supported" in page["reasons"][0]
