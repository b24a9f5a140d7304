"""Declared-term matching: every variant form, and nothing on decoys."""

from __future__ import annotations

import pytest

from exchange.domain.detection.terms import TermMatcher, build_terms, name_key, split_legal_suffix

CUSTOMERS = [
    "Kestrel Dynamics GmbH",
    "Oakridge Acoustics Ltd",
    "Müller Magnet AG",
    "Shenzhen Rare Earth Co., Ltd.",
]
SECRETS = ["grain boundary diffusion", "N52SH-X"]


@pytest.fixture(scope="module")
def matcher() -> TermMatcher:
    return TermMatcher(build_terms(CUSTOMERS, SECRETS))


def spans(matcher: TermMatcher, text: str, etype: str | None = None) -> list[str]:
    return [text[h.start : h.end] for h in matcher.find(text) if etype is None or h.entity_type == etype]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Order from KESTREL DYNAMICS today", "KESTREL DYNAMICS"),
        ("Order from kestrel dynamics today", "kestrel dynamics"),
        ("Order from Kestrel\n   Dynamics today", "Kestrel\n   Dynamics"),
        ("Order from Kes-\ntrel Dynamics GmbH today", "Kes-\ntrel Dynamics GmbH"),
        ("Order from Kestrel Dynam-\n  ics GmbH today", "Kestrel Dynam-\n  ics GmbH"),
        ("Kestrel Dynamics' plant", "Kestrel Dynamics"),
        ("Kestrel Dynamics's plant", "Kestrel Dynamics"),
        ("Kestrel Dynamics GmbH’s plant", "Kestrel Dynamics GmbH"),
        ("Kestrel Dynamics AG signed", "Kestrel Dynamics AG"),
        ("Kestrel-Dynamics signed", "Kestrel-Dynamics"),
        ("write to sales@kestreldynamics.de", "kestreldynamics"),
        # Identifiers: bookmark names, file names, variables
        ("see bookmark Kestrel_Dynamics_GmbH here", "Kestrel_Dynamics_GmbH"),
        ("attached kestrel_dynamics.pdf", "kestrel_dynamics"),
        ("Kestrel\u00a0Dynamics signed", "Kestrel\u00a0Dynamics"),
        ("Müller Magnet AG signed", "Müller Magnet AG"),
        ("Muller Magnet signed", "Muller Magnet"),
        ("Mueller Magnet signed", "Mueller Magnet"),
        ("MUELLER MAGNET signed", "MUELLER MAGNET"),
        ("Mu\u0308ller Magnet signed", "Mu\u0308ller Magnet"),
        ("Shenzhen Rare Earth Co., Ltd. signed", "Shenzhen Rare Earth Co., Ltd."),
        ("Shenzhen Rare Earth Co. Ltd signed", "Shenzhen Rare Earth Co. Ltd"),
        ("Shenzhen Rare Earth K.K. signed", "Shenzhen Rare Earth K.K."),
        ("Shenzhen Rare Earth S.r.l. signed", "Shenzhen Rare Earth S.r.l."),
        ("Shenzhen Rare Earth SRL signed", "Shenzhen Rare Earth SRL"),
        ("Oakridge Acoustics, Ltd. signed", "Oakridge Acoustics, Ltd."),
    ],
)
def test_customer_variants(matcher: TermMatcher, text: str, expected: str) -> None:
    hits = [h for h in matcher.find(text) if h.form == "full"]
    assert [text[h.start : h.end] for h in hits] == [expected]
    assert all(h.entity_type == "CUSTOMER" and h.score == 1.0 for h in hits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uses grain boundary diffusion.", "grain boundary diffusion"),
        ("uses GRAIN BOUNDARY DIFFUSION.", "GRAIN BOUNDARY DIFFUSION"),
        ("uses Grain-Boundary Diffusion.", "Grain-Boundary Diffusion"),
        ("uses grain boundary\ndiffusion.", "grain boundary\ndiffusion"),
        ("uses grain bound-\nary diffusion.", "grain bound-\nary diffusion"),
        ("two grain boundary diffusions.", "grain boundary diffusions"),
        ("grade N52SH-X only", "N52SH-X"),
        ("grade N52SH\u2013X only", "N52SH\u2013X"),
        ("grade n52shx only", "n52shx"),
        ("grade N52SH X only", "N52SH X"),
        ("grade N52-\nSH-X only", "N52-\nSH-X"),
    ],
)
def test_trade_secret_variants(matcher: TermMatcher, text: str, expected: str) -> None:
    assert spans(matcher, text, "TRADE_SECRET") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Kestrelwood Estate",
        "a kestrel hovered over the field",
        "Dynamics and Acoustics are generic words",
        "thermodynamics",
        "Oakridges",
        "Müllerstraße 4",
        "Muellerhof",
        "grain boundary only",
        "boundary diffusion only",
        "N52SH",
        "N52SH-XL",
        "N52SHXL",
        "Magnetic",
        "Rare Earth",
        "Co., Ltd.",
    ],
)
def test_decoys_never_match(matcher: TermMatcher, text: str) -> None:
    assert spans(matcher, text) == []


def test_short_name_rule(matcher: TermMatcher) -> None:
    text = "Kestrel confirmed. KESTREL too. a kestrel flew. Oakridge agreed."
    hits = [(text[h.start : h.end], h.form, h.score) for h in matcher.find(text)]
    assert ("Kestrel", "short name", 0.9) in hits
    assert ("KESTREL", "short name", 0.9) in hits
    assert ("Oakridge", "short name", 0.9) in hits
    assert all(t != "kestrel" for t, _, _ in hits)


def test_generic_first_word_is_not_a_short_name() -> None:
    m = TermMatcher(build_terms(["Advanced Magnet Systems Ltd", "Dynamics Holdings"], []))
    assert m.find("Advanced materials. Dynamics is a subject.") == []


def test_short_names_can_be_switched_off() -> None:
    m = TermMatcher(build_terms(["Kestrel Dynamics GmbH"], [], short_names=False))
    assert m.find("Kestrel confirmed.") == []


def test_offsets_index_original_text(matcher: TermMatcher) -> None:
    text = "Ünïcödé ﬁrst: Straße. Müller Magnet AG and Kes-\ntrel Dynamics."
    for hit in matcher.find(text):
        assert text[hit.start : hit.end] in {
            "Müller Magnet AG",
            "Kes-\ntrel Dynamics",
            "Müller",
            "Kes-\ntrel",
        }


def test_name_key_and_suffixes() -> None:
    assert (
        name_key("Kestrel Dynamics GmbH") == name_key("KESTREL-DYNAMICS's") == name_key("Kes-\ntrel Dynamics")
    )
    assert name_key("Müller Magnet") == name_key("Mueller Magnet AG") == name_key("Muller Magnet")
    assert split_legal_suffix(["acme", "co", "ltd"]) == (["acme"], ["co", "ltd"])
    # A name that is nothing but suffix-like words keeps its words.
    assert split_legal_suffix(["ag", "co"])[0] == ["ag", "co"]


def test_many_terms_compile_and_match() -> None:
    customers = [f"Customer{i:04d} Werke GmbH" for i in range(2000)]
    m = TermMatcher(build_terms(customers, []))
    hits = m.find("We sold to CUSTOMER1234 WERKE and Customer0007 Werke AG.")
    assert sorted(h.term for h in hits if h.form == "full") == [
        "Customer0007 Werke GmbH",
        "Customer1234 Werke GmbH",
    ]


# --- letter-spaced names (letterheads; PDF extractors read letter-spacing as spaces)


@pytest.mark.parametrize(
    ("text", "expected", "term"),
    [
        # words apart by a wider gap, by one space like the letters, or by a line break
        ("To: K e s t r e l  D y n a m i c s, Bremen", "K e s t r e l  D y n a m i c s", CUSTOMERS[0]),
        ("To: K e s t r e l D y n a m i c s, Bremen", "K e s t r e l D y n a m i c s", CUSTOMERS[0]),
        ("K E S T R E L\n  D Y N A M I C S", "K E S T R E L\n  D Y N A M I C S", CUSTOMERS[0]),
        # thin and no-break spaces between the letters
        ("K\u2009e\u2009s\u2009t\u2009r\u2009e\u2009l\u00a0\u00a0D y n a m i c s", None, CUSTOMERS[0]),
        # the declared suffix, another suffix, a suffix with no gap, punctuation after it
        (
            "To: K e s t r e l  D y n a m i c s  G m b H, Bremen",
            "K e s t r e l  D y n a m i c s  G m b H",
            CUSTOMERS[0],
        ),
        ("To: K e s t r e l  D y n a m i c s  A G.", "K e s t r e l  D y n a m i c s  A G.", CUSTOMERS[0]),
        ("of M ü l l e r M a g n e t A G for", "M ü l l e r M a g n e t A G", CUSTOMERS[2]),
        ("S h e n z h e n R a r e E a r t h C o L t d", None, CUSTOMERS[3]),
        ("O a k r i d g e  A c o u s t i c s  L t d .", None, CUSTOMERS[1]),
        # diacritics dropped, transliterated, decomposed
        ("of M u l l e r  M a g n e t  A G for", "M u l l e r  M a g n e t  A G", CUSTOMERS[2]),
        ("of M u e l l e r  M a g n e t for", "M u e l l e r  M a g n e t", CUSTOMERS[2]),
        ("of M u\u0308 l l e r  M a g n e t for", "M u\u0308 l l e r  M a g n e t", CUSTOMERS[2]),
        # possessive and brackets around the run
        ("M ü l l e r M a g n e t A G's plant", "M ü l l e r M a g n e t A G", CUSTOMERS[2]),
        ("(K e s t r e l  D y n a m i c s)", "K e s t r e l  D y n a m i c s", CUSTOMERS[0]),
    ],
)
def test_letter_spaced_customer(matcher: TermMatcher, text: str, expected: str | None, term: str) -> None:
    full = [h for h in matcher.find(text) if h.form == "full"]
    assert len(full) == 1
    (hit,) = full
    # The finding covers the whole spaced run, first letter to last, in the original text.
    assert text[hit.start : hit.end] == (expected if expected is not None else text.strip())
    assert (hit.entity_type, hit.term, hit.score) == ("CUSTOMER", term, 1.0)


def test_letter_spaced_offsets_index_original_text(matcher: TermMatcher) -> None:
    text = "Ünïcödé ﬁrst. Letterhead of K e s t r e l  D y n a m i c s  G m b H for the gearbox."
    (hit,) = [h for h in matcher.find(text) if h.form == "full"]
    assert (hit.start, hit.end) == (28, 28 + len("K e s t r e l  D y n a m i c s  G m b H"))
    assert text[hit.start : hit.end] == "K e s t r e l  D y n a m i c s  G m b H"


def test_letter_spaced_trade_secret_and_short_name(matcher: TermMatcher) -> None:
    text = "uses g r a i n  b o u n d a r y  d i f f u s i o n s. N 5 2 S H - X. K E S T R E L  R E P O R T"
    found = {(text[h.start : h.end], h.form) for h in matcher.find(text)}
    assert found == {
        ("g r a i n  b o u n d a r y  d i f f u s i o n s", "full"),
        ("N 5 2 S H - X", "full"),
        ("K E S T R E L", "short name"),
    }


@pytest.mark.parametrize(
    "text",
    [
        "K e s t r e l w o o d  E s t a t e",  # the letters go on: "Kestrelwood"
        "x K e s t r e l  D y n a m i c s",  # a letter before it: "xkestrel"
        "K e s t r e l D y n a m i c s x",
        "K x e s t r e l  D y n a m i c s",  # another letter between
        "K e s t r e l D y n a m i c",
        "t h e  k e s t r e l  f l e w",  # short name only where capitalised
        "M u l l e r s t r a s s e  4",
        "g r a i n  b o u n d a r y  o n l y",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        "I  a m  a t  K e s t r e l w o o d,  s e e  y o u",
        "N 5 2 S H - X L",
        "K. e. s. t. r. e. l. D. y. n. a. m. i. c. s.",
    ],
)
def test_letter_spaced_decoys_never_match(matcher: TermMatcher, text: str) -> None:
    assert spans(matcher, text) == []


def test_mixed_spacing_is_not_joined(matcher: TermMatcher) -> None:
    # Only the spaced part is a run; the full name is not spelled out letter by letter.
    text = "K e s t r e l Dynamics"
    assert [(text[h.start : h.end], h.form) for h in matcher.find(text)] == [("K e s t r e l", "short name")]


def test_normal_text_unchanged_next_to_spaced_text(matcher: TermMatcher) -> None:
    text = "Kestrel Dynamics GmbH and a b c and Müller Magnet AG; K e s t r e l  D y n a m i c s"
    full = [text[h.start : h.end] for h in matcher.find(text) if h.form == "full"]
    assert full == ["Kestrel Dynamics GmbH", "Müller Magnet AG", "K e s t r e l  D y n a m i c s"]
