from __future__ import annotations

import pytest

from exchange.domain.detection.normalise import FoldedText, expand_umlauts, fold

TRICKY = [
    "Kestrel Dynamics GmbH",
    "KES-\n  TREL  Dynamics",
    "Müller Mueller Muller",
    "Straße STRASSE",
    "İstanbul ǅ ﬁne ½",
    "Søren Ærø Łódź Þór",
    "N52SH\u2013X \u2018quoted\u2019",
    "soft\u00adhyphen zero\u200bwidth",
    "한국어 日本語 Ελληνικά",
    "tab\tand\r\nnewline\u2028sep",
    "-\n-\n",
    "a\u0308 combining",
]


@pytest.mark.parametrize("text", TRICKY)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_fold_unifies_spellings() -> None:
    assert fold("KESTREL\n  Dynamics") == fold("kestrel dynamics")
    assert fold("Kes-\ntrel") == "kestrel"
    assert fold("Müller") == fold("Muller")
    assert fold("N52SH\u2013X") == fold("n52sh-x")
    assert fold("Søren") == "soren"
    assert fold("zero\u200bwidth") == "zerowidth"


def test_expand_umlauts() -> None:
    assert expand_umlauts("Müller Søndergaard Åland") == "Mueller Soendergaard Aaland"


@pytest.mark.parametrize(
    "text",
    ["plain ascii only", "Kes-\ntrel Dynamics", "Müller Straße ﬁne", "x\u00ady", "a\u0308b", "N52SH\u2013X"],
)
def test_folded_text_maps_every_character_back(text: str) -> None:
    folded = FoldedText(text)
    for i in range(len(folded.text)):
        start, end = folded.to_original(i, i + 1)
        assert 0 <= start < end <= len(text)
    # A span over the whole folded text maps to a span inside the original.
    start, end = folded.to_original(0, len(folded.text))
    assert start == 0
    assert end <= len(text)


def test_folded_text_joins_hyphenated_words() -> None:
    folded = FoldedText("see Kes-\n  trel now")
    assert "kestrel" in folded.text
    at = folded.text.index("kestrel")
    assert folded.to_original(at, at + 7) == (4, 15)
