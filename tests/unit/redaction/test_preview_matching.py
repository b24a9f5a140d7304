"""Finding texts matched on a page's text for marks: folded like detection reads them."""

from __future__ import annotations

import time

from PIL import Image

from exchange.domain.redaction.preview import (
    PreviewLimits,
    Term,
    _ocr_marks,
    _term_index,
    find_all,
    fold_index,
    previewable,
)


def test_fold_index_maps_every_folded_character_back() -> None:
    text = "Order for  KESTREL\r\nDynamics  Gmb-\nH, Müller"
    folded, origin = fold_index(text)
    assert folded == "order for kestrel dynamics gmbh, muller"
    assert len(origin) == len(folded)
    start = folded.index("kestrel")
    assert text[origin[start] : origin[start + len("kestrel") - 1] + 1] == "KESTREL"
    # A line break folds to one space, and a hyphen at a line end goes with the break.
    assert text[origin[folded.index("gmbh")] :].startswith("Gmb-")
    assert text[origin[folded.index("muller")]] == "M"


def test_find_all_and_terms() -> None:
    assert list(find_all("a kestrel and a kestrel", "kestrel")) == [(2, 9), (16, 23)]
    assert list(find_all("anything", "")) == []
    terms = _term_index(
        [Term("Kestrel", "CUSTOMER"), Term("KESTREL", "CUSTOMER"), Term("Kestrel Dynamics", "X")]
    )
    # One entry per folded text, longest first, so a longer name is matched before its part.
    assert [key for key, _ in terms] == ["kestrel dynamics", "kestrel"]


def test_previewable() -> None:
    assert previewable("application/pdf") == previewable("image/heic") == previewable("text/csv") == ""
    assert "videos have no pages" in previewable("video/mp4")
    assert previewable("application/zip").startswith("no preview")


def test_ocr_marks_stop_when_their_time_is_up() -> None:
    image = Image.new("L", (200, 50), 255)
    terms = _term_index([Term("Kestrel", "CUSTOMER")])
    # No Tesseract run at all once the budget is spent (it would take seconds per page).
    started = time.monotonic()
    assert _ocr_marks(image, terms, PreviewLimits(ocr_languages="eng"), time.monotonic() - 1) == []
    assert time.monotonic() - started < 0.5
