"""The verifier on its own: folding, and detection of text under a box."""

from __future__ import annotations

import random
import string
from pathlib import Path

from exchange.domain.detection.normalise import fold
from exchange.domain.redaction.pdf.engine import verify_output
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.verify import Needles, fast_fold, join_spaced_runs
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


def test_join_spaced_runs_joins_lone_characters_only() -> None:
    assert join_spaced_runs("To: K e s t r e l  D y n a m i c s") == "To: Kestrel  Dynamics"
    assert join_spaced_runs("K e s t r e l D y n a m i c s GmbH") == "KestrelDynamics GmbH"
    assert join_spaced_runs("3 M and L i  W u") == "3M and Li  Wu"
    assert join_spaced_runs("A\u2009C\u00a0M\u202fE") == "ACME"
    # Ordinary words, wider gaps, tabs and line breaks are left alone.
    assert join_spaced_runs("a cloak ridge walk") == "a cloak ridge walk"
    assert join_spaced_runs("1  2\t3\n4") == "1  2\t3\n4"


def test_needles_find_letter_spaced_short_values() -> None:
    needles = Needles(["Acme", "Li Wu", "3M", SECRET])
    assert needles.search("Shipped to: A C M E Ltd") == [0]
    assert needles.search("L i  W u") == [1]
    assert needles.search("L i W u") == [1]
    assert needles.search("made by 3 M") == [2]
    assert needles.search("K e s t r e l  D y n a m i c s") == [3]
    assert needles.search("A c m e, L i W u and 3 M") == [0, 1, 2]
    assert Needles(["Müll"]).search("An: M Ü L L, Köln") == [0]  # non-ASCII: no substring pre-check
    # A lone letter next to the run spells another word, as for detection.
    assert needles.search("x A C M E") == []
    assert needles.search("A c m e s") == []


def test_letter_spaced_view_glues_no_ordinary_words() -> None:
    needles = Needles(["Oak", "Ridg", "Lo Wa", "Ao", "Aorb"])
    assert needles.search("a cloak ridge walk, slow walk") == []
    # Lone letters next to ordinary words are not glued to them.
    assert needles.search("Part A or B of form C") == []
