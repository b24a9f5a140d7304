"""A Faker-based generator of labelled text for detection tests and the benchmark.

Every document mixes filler sentences with mentions of declared customers,
trade secrets and part numbers in the variant forms real documents use
(case, whitespace and line breaks, hyphenation across a line end, legal
suffix present/absent/different, possessives, diacritics and their
transliterations), Presidio-type values (people, e-mail, phone) and decoys:
ordinary words that share a part of a declared term and must not be found.

Labels are character spans of the generated text; a label covers the
mention's name including a legal suffix but not a possessive ending.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from faker import Faker

CUSTOMERS = (
    "Kestrel Dynamics GmbH",
    "Oakridge Acoustics Ltd",
    "Müller Magnet AG",
    "Shenzhen Rare Earth Co., Ltd.",
    "Nordhavn Sintering S.r.l.",
    "Yamabe Koki K.K.",
    "Søndergaard Motors A/S",
)
TRADE_SECRETS = (
    "grain boundary diffusion",
    "N52SH-X",
    "terbium vapour deposition",
    "jet-milled alloy powder",
)
PART_NUMBER = r"KD-\d{4}-[A-Z]{2}"

POLICY_YAML = """\
version: 1
name: Labelled synthetic corpus
terms:
  customers: {customers}
  trade_secrets: {secrets}
  patterns: {{PART_NUMBER: '{part}'}}
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER]
    keep: ["Oakridge Acoustics Ltd"]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER, PERSON, EMAIL_ADDRESS, PHONE_NUMBER]
    style: label
"""

#: Words that share a part of a declared term; none may be found.
DECOYS = (
    "Kestrelwood",
    "a kestrel hovered over the field",
    "Dynamics",
    "thermodynamics",
    "Acoustics",
    "Oakridges",
    "Magnetic",
    "Müllerstraße",
    "Muellerhof",
    "grain boundary",
    "boundary diffusion",
    "N52SH",
    "N52SH-XL",
    "N52",
    "KD-12345-AB",
    "KD-1234-A",
    "vapour deposition",
    "alloy powder",
    "Sintering",
    "rare earth",
    "Motors",
)

_FILLER = (
    "The applicant requests an export licence for sintered magnets.",
    "All shipments are inspected before dispatch.",
    "The end-use statement was signed last quarter.",
    "Please find the technical annex attached.",
    "Coercivity was measured at room temperature.",
    "The bureau may request further evidence.",
    "Quantities are stated in kilograms.",
)


def policy_yaml() -> str:
    def flow(values: tuple[str, ...]) -> str:
        return "[" + ", ".join('"' + v + '"' for v in values) + "]"

    return POLICY_YAML.format(customers=flow(CUSTOMERS), secrets=flow(TRADE_SECRETS), part=PART_NUMBER)


@dataclass
class Label:
    entity_type: str
    start: int
    end: int
    form: str


@dataclass
class LabelledDoc:
    text: str
    labels: list[Label] = field(default_factory=list)
    decoys: list[tuple[int, int]] = field(default_factory=list)


def _hyphen_break(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    cut = rng.randint(2, len(word) - 2)
    return word[:cut] + "-\n" + word[cut:]


def customer_variants(name: str, rng: random.Random) -> list[tuple[str, str]]:
    """(form, text) variants of a declared customer name (label covers all of text)."""
    from exchange.domain.detection.terms import _tokens, split_legal_suffix

    _, suffix_tokens = split_legal_suffix(_tokens(name))
    words = name.split()
    base_words = words[: len(words) - _suffix_word_count(name, suffix_tokens)] or words
    base = " ".join(base_words)
    out = [
        ("canonical", name),
        ("upper", name.upper()),
        ("lower", name.lower()),
        ("no suffix", base),
        ("line break", base_words[0] + "\n   " + " ".join(base_words[1:]) if len(base_words) > 1 else base),
        ("hyphenated line end", _hyphen_break(base_words[0], rng) + " " + " ".join(base_words[1:])),
        (
            "other suffix",
            base + " " + rng.choice(["GmbH", "Ltd.", "Co., Ltd.", "K.K.", "S.r.l.", "SRL", "Inc."]),
        ),
        ("spaces", "  ".join(base_words)),
        ("nbsp", "\u00a0".join(base_words)),
    ]
    folded_umlauts = base.translate(str.maketrans({"ü": "u", "ö": "o", "ä": "a", "ø": "o", "Ü": "U"}))
    expanded = base.translate(str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "ø": "oe", "Ü": "Ue"}))
    if folded_umlauts != base:
        out.append(("no diacritics", folded_umlauts))
        out.append(("transliterated", expanded))
    return out


def _suffix_word_count(name: str, suffix_tokens: list[str]) -> int:
    if not suffix_tokens:
        return 0
    joined = "".join(suffix_tokens)
    words = name.split()
    for count in range(1, len(words)):
        tail = "".join(ch for ch in " ".join(words[-count:]).lower() if ch.isalnum())
        if tail == joined:
            return count
    return 0


def secret_variants(secret: str, rng: random.Random) -> list[tuple[str, str]]:
    words = secret.split()
    out = [
        ("canonical", secret),
        ("upper", secret.upper()),
        ("title", secret.title()),
        ("hyphenated line end", " ".join([*words[:-1], _hyphen_break(words[-1], rng)])),
    ]
    if len(words) > 1:
        out.append(("line break", " ".join(words[:-1]) + "\n" + words[-1]))
        out.append(("hyphen joined", "-".join(words)))
    if "-" in secret:
        out.append(("en dash", secret.replace("-", "\u2013")))
        out.append(("no hyphen", secret.replace("-", "")))
    if words[-1].isalpha() and len(words[-1]) >= 3:  # codes such as N52SH-X have no plural
        out.append(("plural", secret + "s"))
    return out


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.doc = LabelledDoc("")

    def add(self, text: str) -> tuple[int, int]:
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    def label(self, entity_type: str, text: str, form: str, *, possessive: str = "") -> None:
        start, end = self.add(text)
        self.doc.labels.append(Label(entity_type, start, end, form))
        if possessive:
            self.add(possessive)

    def decoy(self, text: str) -> None:
        self.doc.decoys.append(self.add(text))

    def build(self) -> LabelledDoc:
        self.doc.text = "".join(self.parts)
        return self.doc


def _emit(
    b: _Builder,
    kind: str,
    *,
    etype: str,
    form: str,
    text: str,
    possessive: str,
    rng: random.Random,
    fake: Faker,
) -> None:
    if kind == "mention":
        b.add(rng.choice(["We supply ", "Order placed by ", "As agreed with ", "Material for "]))
        b.label(etype, text, form, possessive=possessive)
        b.add(rng.choice([" last year. ", ", see annex B. ", " in March.\n", ". "]))
    elif kind == "part":
        b.add("Item ")
        b.label("PART_NUMBER", fake.bothify("KD-####-??").upper(), "pattern")
        b.add(" is listed. ")
    elif kind == "decoy":
        b.add("Note: ")
        b.decoy(rng.choice(DECOYS))
        b.add(" is unrelated. ")
    elif kind == "person":
        b.add("Signed by ")
        b.label("PERSON", fake.name(), "ner")
        b.add(", export manager. ")
    elif kind == "contact":
        b.add("Email: ")
        b.label("EMAIL_ADDRESS", fake.company_email(), "pattern")
        b.add(" phone ")
        b.label("PHONE_NUMBER", fake.numerify("+44 20 7### ####"), "pattern")
        b.add(".\n")


def generate(n_docs: int = 40, seed: int = 41, *, with_pii: bool = True) -> list[LabelledDoc]:
    """Labelled documents; every variant form of every term appears at least once."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    mentions: list[tuple[str, str, str]] = []  # (type, form, text)
    for customer in CUSTOMERS:
        mentions += [("CUSTOMER", form, text) for form, text in customer_variants(customer, rng)]
    for secret in TRADE_SECRETS:
        mentions += [("TRADE_SECRET", form, text) for form, text in secret_variants(secret, rng)]
    docs: list[LabelledDoc] = []
    pending = list(mentions)
    rng.shuffle(pending)
    for _ in range(n_docs):
        b = _Builder()
        b.add(f"Reference {fake.bothify('EL-####')}\n\n")
        # Each step is (kind, payload); executed in shuffled order below.
        steps: list[tuple[str, tuple[str, str, str, str]]] = []
        take = pending[:4] if pending else [rng.choice(mentions) for _ in range(4)]
        pending = pending[4:]
        for etype, form, text in take:
            possessive = rng.choice(["", "", "'s", "’s"]) if etype == "CUSTOMER" else ""
            if etype == "CUSTOMER" and text.endswith("s") and possessive:
                possessive = "'"
            steps.append(("mention", (etype, form, text, possessive)))
        steps += [("part", ("", "", "", "")), ("decoy", ("", "", "", "")), ("decoy", ("", "", "", ""))]
        if with_pii:
            steps += [("person", ("", "", "", "")), ("contact", ("", "", "", ""))]
        rng.shuffle(steps)
        for kind, (etype, form, text, possessive) in steps:
            _emit(b, kind, etype=etype, form=form, text=text, possessive=possessive, rng=rng, fake=fake)
            b.add(rng.choice(_FILLER) + " ")
        for _ in range(rng.randint(8, 14)):
            b.add(rng.choice(_FILLER) + (" " if rng.random() < 0.8 else "\n"))
        docs.append(b.build())
    assert not pending, "not every variant form was placed; raise n_docs"
    return docs
