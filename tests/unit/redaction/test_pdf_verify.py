"""The verifier on its own: folding, and detection of text under a box."""

from __future__ import annotations

import random
import string
from pathlib import Path

from exchange.domain.detection.normalise import fold
from exchange.domain.redaction.pdf.engine import verify_output
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.verify import Needles, fast_fold
from tests.corpus.pdf import SECRET, producer_reportlab


def test_fast_fold_equals_fold_on_ascii() -> None:
    rng = random.Random(4)
    alphabet = string.printable + "\x1c\x1d\x1e\x1f--\n\n  ``"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert fast_fold(text) == fold(text), repr(text)
    assert fast_fold("Müller\u00adMagnet") == fold("Müller\u00adMagnet")


def test_needles_find_spacing_and_case_variants() -> None:
    needles = Needles([SECRET, "Müller Magnet"])
    assert needles.search("x KESTREL  dynamics y") == [0]
    assert needles.search("Kes trel Dyna mics") == [0]
    assert needles.search("MULLER MAGNET") == [1]
    assert needles.search("Kestrel alone") == []
    assert needles.search_bytes("Müller Magnet".encode("utf-16-be")) == [1]


def test_text_under_an_opaque_box_is_a_leak(tmp_path: Path) -> None:
    # The unredacted input has text under the applicant's boxes: the verifier must say so.
    src = producer_reportlab.hidden_under_box(tmp_path)
    leaks = verify_output(src.read_bytes(), [], {}, [1], PdfLimits())
    assert [(leak.page, leak.kind) for leak in leaks] == [(1, "text_under_box")]
    leaks = verify_output(src.read_bytes(), [SECRET], {}, [1], PdfLimits())
    assert {leak.kind for leak in leaks} >= {"text_under_box", "page_text", "stream", "raw_stream"}
