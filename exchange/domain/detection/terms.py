"""Matching of declared terms (customer names, trade-secret phrases).

Declared terms carry the load of detection, so they must match in every form
a real document spells them, and nowhere else.

How a term is matched (all on the :class:`~.normalise.FoldedText` form, so case,
diacritics, ligatures, dashes, apostrophes and hyphenation across a line end
are already folded away):

* Words of the term may be separated by any run of whitespace (including line
  breaks) with at most two of ``. , / ' -`` between them, or by nothing at
  all: ``Kestrel\\n  Dynamics``, ``Kestrel-Dynamics``, ``kestreldynamics.de``.
* German/Nordic transliteration both ways for letters that were written with an
  umlaut or as its expansion in the declared term: ``Müller`` and ``Mueller``
  both match ``Müller``, ``Mueller``, ``Muller``. (A term declared as plain
  ``Muller`` cannot know it was an umlaut and does not match ``Mueller``.)
* Customer names: the declared legal suffix is optional and any known legal
  suffix may follow (``GmbH``, ``Co., Ltd.``, ``K.K.``, ``S.r.l.``/``SRL``…);
  the match covers the suffix when it is there.
* Possessives need no rule: the match ends at a word boundary, so
  ``Kestrel Dynamics'`` and ``Kestrel Dynamics's`` match the name itself.
* Trade-secret phrases ending in a word also match its plural (``…diffusions``).
* Every match starts and ends at a word boundary, so ``Kestrelwood`` never
  matches ``Kestrel``.
* Short names: the first word of a multi-word customer name also matches on
  its own when it is *distinctive* — alphabetic, at least 4 letters, not an
  English stop word and not a generic company-name word (``Dynamics``,
  ``Systems``, ``International``…) — and only where the document writes it
  capitalised (``Kestrel`` but not ``a kestrel hovered``). Short-name matches
  score 0.9 rather than 1.0, and a policy can switch them off.
* Chinese, Japanese and Korean (a term with a character of those scripts):
  the scripts have no word boundaries, so the term matches as a substring,
  character by character with any whitespace (line breaks included) between
  characters (``宁波 瀚海\n磁电有限公司``); full-width and half-width forms
  fold alike (NFKC). The declared legal form is optional and any known one
  may follow (``有限公司``, ``股份有限公司``, ``集团``, ``株式会社``, ``(株)``,
  ``주식회사``…) or, for the Japanese and Korean forms that are written first,
  precede (``株式会社東芝``); the match covers the form when it is there. A
  form is only split off when at least two CJK characters (or three other
  letters or digits) remain, so ``公司`` alone never becomes a name.
* Letter-spaced forms (letterheads, headings; PDF text extractors read the
  letter-spacing as spaces): ``K e s t r e l  D y n a m i c s  G m b H``. A
  *letter-spaced run* is two or more single characters, each standing alone
  between whitespace. Inside a run one space (any space-like character: nbsp,
  thin space…) joins letters into a word; a wider gap or a line break separates
  words. The squeezed run (``kestrel dynamics gmbh``) is matched with the rules
  above, so case, diacritics, transliteration and suffixes work as in normal
  text, and the finding covers the whole spaced run in the original text.
  Because producers often space words by one space too
  (``M ü l l e r M a g n e t t e c h n i k A G``), a legal suffix may follow a
  customer's name without a gap inside a run. A match must still start and end
  at a word boundary of the squeezed run, so the whole term has to be spelled
  out letter by letter: a letter standing alone next to it (``x K e s t r e l``)
  or continuing it (``K e s t r e l w o o d``) prevents the match, as it would
  in ``xkestrel``/``kestrelwood``. Short names apply to spaced runs too, under
  the same capitalisation rule (``K E S T R E L`` but not ``k e s t r e l``).
  Mixed forms (``K e s t r e l Dynamics``) are not joined: only the short
  name can match there. Runs are found with one extra linear RE2 pass; the
  term regexes then run only on the (rare) runs.

Safety: all patterns here are generated, never user-written, and run on RE2
(linear time); term counts and lengths are capped by the policy loader.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from exchange.domain.detection.normalise import FoldedText, expand_umlauts, fold

CUSTOMER = "CUSTOMER"
TRADE_SECRET = "TRADE_SECRET"  # noqa: S105  (an entity type name, not a password)

#: Legal-form suffixes, written as their words; punctuation between and after
#: the words is free (``S.r.l.`` = ``s r l`` = ``SRL``).
LEGAL_SUFFIXES: tuple[str, ...] = (
    # German-speaking
    "gmbh & co kg",
    "gmbh & co kgaa",
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "kgaa",
    "ohg",
    "ug",
    "e k",
    "ev",
    "se",
    # English-speaking
    "ltd",
    "limited",
    "plc",
    "llc",
    "llp",
    "lp",
    "pllc",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "co ltd",
    "co inc",
    "pty ltd",
    "pte ltd",
    "pvt ltd",
    "private limited",
    "pty",
    "pte",
    # Romance languages
    "sa",
    "sas",
    "sasu",
    "sarl",
    "sca",
    "snc",
    "srl",
    "spa",
    "sl",
    "slu",
    "ltda",
    "lda",
    "sa de cv",
    "sapi de cv",
    "sagl",
    "cia",
    # Benelux, Nordic
    "bv",
    "nv",
    "nv sa",
    "vof",
    "ab",
    "as",
    "asa",
    "aps",
    "oy",
    "oyj",
    "hf",
    "ehf",
    # Central/Eastern Europe
    "sp z oo",
    "sro",
    "doo",
    "zrt",
    "kft",
    "nyrt",
    "ooo",
    "zao",
    "oao",
    "pjsc",
    "jsc",
    # Asia
    "kk",
    "kabushiki kaisha",
    "gk",
    "godo kaisha",
    "yk",
    "sdn bhd",
    "bhd",
    "tbk",
    "pt",
)

#: Characters of scripts written without spaces between words (Han, kana, Hangul).
_CJK_CHAR = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3040-\u30ff\u3130-\u318f"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0003134f]"
)
#: CJK legal forms written after the name, in their folded spelling (NFKC: "（株）" and
#: "㈱" both fold to "(株)"), longest first so that the longest form is split off.
CJK_LEGAL_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {
            # Chinese (simplified and traditional)
            "股份有限公司",
            "有限责任公司",
            "有限責任公司",
            "集团股份有限公司",
            "集團股份有限公司",
            "集团有限公司",
            "集團有限公司",
            "控股有限公司",
            "有限公司",
            "股份公司",
            "集团公司",
            "集團公司",
            "集团",
            "集團",
            "公司",
            # Japanese
            "株式会社",
            "有限会社",
            "合同会社",
            "合資会社",
            "合名会社",
            "(株)",
            "(有)",
            "(合)",
            # Korean
            "주식회사",
            "유한회사",
            "유한책임회사",
            "합자회사",
            "합명회사",
            "(주)",
            "(유)",
        },
        key=lambda form: (-len(form), form),
    )
)
# Folded like the text they are compared with (folding decomposes Hangul into jamo).
CJK_LEGAL_SUFFIXES = tuple(sorted({fold(f) for f in CJK_LEGAL_SUFFIXES}, key=lambda f: (-len(f), f)))
#: Japanese and Korean legal forms are also written before the name (株式会社東芝, 주식회사 카카오).
CJK_LEGAL_PREFIXES: tuple[str, ...] = tuple(
    form for form in CJK_LEGAL_SUFFIXES if form[-1] in "社)" or form.endswith(fold("회사"))
)
_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")


def has_cjk(text: str) -> bool:
    """Whether ``text`` has a character of a script written without word spaces."""
    return _CJK_CHAR.search(text) is not None


def _long_enough(base: str) -> bool:
    """Whether ``base`` can be a name once a legal form is split off.

    Two CJK characters (counted composed: folding splits Hangul into jamo) or three
    other letters or digits, and not itself a legal form or a piece of one: "有限公司"
    does not leave "有限", nor "集团公司" leave "集团".
    """
    if any(base in form for form in CJK_LEGAL_SUFFIXES):
        return False
    composed = unicodedata.normalize("NFC", base)
    cjk = len(_CJK_CHAR.findall(composed))
    return cjk >= 2 or (cjk == 0 and len(_NOT_WORD.sub("", composed)) >= 3)


def split_cjk_legal_form(term: str) -> tuple[str, str, str]:
    """(legal form before, base name, legal forms after) of a CJK term, folded and without spaces.

    At most one form is split off before the name and two after it
    (``宁波瀚海集团有限公司`` → ``宁波瀚海``), and only while the base keeps at least two
    CJK characters (or three other letters or digits).
    """
    base = _SPACES.sub("", fold(term))
    prefix = suffix = ""
    for _ in range(2):
        form = next(
            (f for f in CJK_LEGAL_SUFFIXES if base.endswith(f) and _long_enough(base[: -len(f)])), None
        )
        if form is None:
            break
        base, suffix = base[: -len(form)], form + suffix
    form = next((f for f in CJK_LEGAL_PREFIXES if base.startswith(f) and _long_enough(base[len(f) :])), None)
    if form is not None:
        base, prefix = base[len(form) :], form
    return prefix, base, suffix


def _cjk_key(text: str) -> str:
    _, base, _ = split_cjk_legal_form(text)
    return _NOT_WORD.sub("", base)


def base_name(term: str) -> str | None:
    """The declared term without its legal form(s), or None when it has none to drop."""
    if has_cjk(term):
        prefix, cjk_base, forms = split_cjk_legal_form(term)
        return cjk_base if prefix or forms else None
    base, suffix = split_legal_suffix(_tokens(term))
    return " ".join(base) if suffix else None


def _chars_regex(text: str) -> str:
    # Any whitespace, line breaks included, may stand between two characters.
    return r"\s*".join(re2.escape(ch) for ch in text)


_CJK_SUFFIX_RE = "(?:" + "|".join(_chars_regex(f) for f in CJK_LEGAL_SUFFIXES) + ")"
_CJK_PREFIX_RE = "(?:" + "|".join(_chars_regex(f) for f in CJK_LEGAL_PREFIXES) + ")"


def _cjk_body(term: str, *, legal_forms: bool) -> tuple[str, str]:
    """(body, body without its closing edge) for a CJK term: a substring match, spaces free."""
    if legal_forms:
        _, base, _ = split_cjk_legal_form(term)
    else:
        base = _SPACES.sub("", fold(term))
    core = _chars_regex(base)
    if legal_forms:
        core = rf"(?:{_CJK_PREFIX_RE}\s*)?{core}(?:\s*{_CJK_SUFFIX_RE}){{0,2}}"
    open_body = _edge(base[0], start=True) + core
    return open_body + _edge(base[-1], start=False), open_body


#: Words too generic to stand alone as a customer's short name.
GENERIC_NAME_WORDS = frozenset(
    [
        "acoustics",
        "advanced",
        "aerospace",
        "agency",
        "alliance",
        "allied",
        "american",
        "applied",
        "associated",
        "associates",
        "atlantic",
        "automation",
        "automotive",
        "bank",
        "best",
        "big",
        "british",
        "business",
        "capital",
        "central",
        "chemical",
        "chemicals",
        "china",
        "city",
        "coast",
        "commercial",
        "communications",
        "components",
        "computer",
        "consolidated",
        "consulting",
        "continental",
        "control",
        "controls",
        "corporate",
        "creative",
        "data",
        "design",
        "designs",
        "development",
        "devices",
        "digital",
        "direct",
        "dynamics",
        "eastern",
        "electric",
        "electrical",
        "electronics",
        "energy",
        "engineering",
        "enterprise",
        "enterprises",
        "equipment",
        "euro",
        "europe",
        "european",
        "export",
        "express",
        "federal",
        "financial",
        "first",
        "fluid",
        "foods",
        "general",
        "german",
        "global",
        "golden",
        "good",
        "great",
        "green",
        "group",
        "groups",
        "health",
        "holding",
        "holdings",
        "home",
        "imperial",
        "import",
        "industrial",
        "industries",
        "information",
        "instruments",
        "integrated",
        "intelligent",
        "international",
        "investment",
        "investments",
        "japan",
        "laboratories",
        "labs",
        "logistics",
        "machine",
        "machinery",
        "magnet",
        "magnetics",
        "magnets",
        "management",
        "manufacturing",
        "marine",
        "materials",
        "media",
        "medical",
        "metal",
        "metals",
        "micro",
        "mining",
        "mobile",
        "modern",
        "motor",
        "motors",
        "mutual",
        "national",
        "network",
        "networks",
        "new",
        "north",
        "northern",
        "nuclear",
        "ocean",
        "optical",
        "optics",
        "pacific",
        "partners",
        "power",
        "precision",
        "premier",
        "pro",
        "products",
        "professional",
        "quality",
        "research",
        "resources",
        "robotics",
        "royal",
        "safety",
        "science",
        "sciences",
        "security",
        "semiconductor",
        "service",
        "services",
        "smart",
        "software",
        "solar",
        "solutions",
        "southern",
        "standard",
        "steel",
        "strategic",
        "supply",
        "synergy",
        "systems",
        "tech",
        "technical",
        "technologies",
        "technology",
        "trade",
        "trading",
        "trans",
        "transport",
        "union",
        "united",
        "universal",
        "ventures",
        "western",
        "world",
        "worldwide",
    ]
)

#: Score of a declared full-name match and of a short-name match.
DECLARED_SCORE = 1.0
SHORT_NAME_SCORE = 0.9

_TOKEN = re.compile(r"[^\W_]+")
#: Between the words of a term: whitespace (any amount, line breaks included)
#: with at most two punctuation marks, or nothing. Underscores count as
#: punctuation: names also travel as identifiers (bookmarks, file names).
_SEP = r"\s*[._,/'-]{0,2}\s*"
_AMP_SEP = r"(?:\s*[._,/'-]{0,2}\s*|\s*(?:&|\+|and)\s*)"
_UMLAUT_PAIR = re.compile(r"([aou])e|(a)a")


#: English stop words (spaCy's list, copied so that loading a policy does not
#: import spaCy, which takes seconds).
_STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "across",
        "after",
        "afterwards",
        "again",
        "against",
        "all",
        "almost",
        "alone",
        "along",
        "already",
        "also",
        "although",
        "always",
        "am",
        "among",
        "amongst",
        "amount",
        "an",
        "and",
        "another",
        "any",
        "anyhow",
        "anyone",
        "anything",
        "anyway",
        "anywhere",
        "are",
        "around",
        "as",
        "at",
        "back",
        "be",
        "became",
        "because",
        "become",
        "becomes",
        "becoming",
        "been",
        "before",
        "beforehand",
        "behind",
        "being",
        "below",
        "beside",
        "besides",
        "between",
        "beyond",
        "both",
        "bottom",
        "but",
        "by",
        "ca",
        "call",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "due",
        "during",
        "each",
        "eight",
        "either",
        "eleven",
        "else",
        "elsewhere",
        "empty",
        "enough",
        "even",
        "ever",
        "every",
        "everyone",
        "everything",
        "everywhere",
        "except",
        "few",
        "fifteen",
        "fifty",
        "first",
        "five",
        "for",
        "former",
        "formerly",
        "forty",
        "four",
        "from",
        "front",
        "full",
        "further",
        "get",
        "give",
        "go",
        "had",
        "has",
        "have",
        "he",
        "hence",
        "her",
        "here",
        "hereafter",
        "hereby",
        "herein",
        "hereupon",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "however",
        "hundred",
        "i",
        "if",
        "in",
        "indeed",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "keep",
        "last",
        "latter",
        "latterly",
        "least",
        "less",
        "made",
        "make",
        "many",
        "may",
        "me",
        "meanwhile",
        "might",
        "mine",
        "more",
        "moreover",
        "most",
        "mostly",
        "move",
        "much",
        "must",
        "my",
        "myself",
        "name",
        "namely",
        "neither",
        "never",
        "nevertheless",
        "next",
        "nine",
        "no",
        "nobody",
        "none",
        "noone",
        "nor",
        "not",
        "nothing",
        "now",
        "nowhere",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "onto",
        "or",
        "other",
        "others",
        "otherwise",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "part",
        "per",
        "perhaps",
        "please",
        "put",
        "quite",
        "rather",
        "re",
        "really",
        "regarding",
        "same",
        "say",
        "see",
        "seem",
        "seemed",
        "seeming",
        "seems",
        "serious",
        "several",
        "she",
        "should",
        "show",
        "side",
        "since",
        "six",
        "sixty",
        "so",
        "some",
        "somehow",
        "someone",
        "something",
        "sometime",
        "sometimes",
        "somewhere",
        "still",
        "such",
        "take",
        "ten",
        "than",
        "that",
        "the",
        "their",
        "them",
        "themselves",
        "then",
        "thence",
        "there",
        "thereafter",
        "thereby",
        "therefore",
        "therein",
        "thereupon",
        "these",
        "they",
        "third",
        "this",
        "those",
        "though",
        "three",
        "through",
        "throughout",
        "thru",
        "thus",
        "to",
        "together",
        "too",
        "top",
        "toward",
        "towards",
        "twelve",
        "twenty",
        "two",
        "under",
        "unless",
        "until",
        "up",
        "upon",
        "us",
        "used",
        "using",
        "various",
        "very",
        "via",
        "was",
        "we",
        "well",
        "were",
        "what",
        "whatever",
        "when",
        "whence",
        "whenever",
        "where",
        "whereafter",
        "whereas",
        "whereby",
        "wherein",
        "whereupon",
        "wherever",
        "whether",
        "which",
        "while",
        "whither",
        "who",
        "whoever",
        "whole",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(expand_umlauts(text)))


def _suffix_token_lists() -> list[list[str]]:
    return [s.replace("&", " ").split() for s in LEGAL_SUFFIXES]


_SUFFIX_TOKENS = _suffix_token_lists()
_SUFFIX_JOINED = frozenset("".join(toks) for toks in _SUFFIX_TOKENS)


def split_legal_suffix(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split folded tokens into (base name, legal suffix tokens).

    At most two suffixes are stripped (``… GmbH & Co. KG``, ``… Co., Ltd.``),
    and never when that would leave no distinctive word: a company called
    ``AG Company`` keeps its name.
    """
    base = list(tokens)
    suffix: list[str] = []
    for _ in range(2):
        for width in (4, 3, 2, 1):
            if len(base) > width and "".join(base[-width:]) in _SUFFIX_JOINED:
                candidate = base[:-width]
                if not any(_distinctive(tok, strict=False) for tok in candidate):
                    return base, suffix
                suffix = base[-width:] + suffix
                base = candidate
                break
        else:
            break
    return base, suffix


def _distinctive(token: str, *, strict: bool) -> bool:
    if token in _STOP_WORDS or token in _SUFFIX_JOINED:
        return False
    if strict:
        return token.isalpha() and len(token) >= 4 and token not in GENERIC_NAME_WORDS
    return len(token) >= 2


def name_key(text: str) -> str:
    """A spelling-insensitive key for a name: folded, suffix-free, umlaut-collapsed.

    ``Kestrel Dynamics GmbH``, ``KESTREL-DYNAMICS``, ``Kes-\\ntrel Dynamics's`` and
    ``Müller``/``Mueller``/``Muller`` each share a key. Used to identify keep
    terms and to give consistent labels.
    """
    if has_cjk(text):
        return _cjk_key(text)
    tokens = _tokens(text)
    if tokens and tokens[-1] == "s" and len(tokens) > 1:  # possessive "'s"
        tokens = tokens[:-1]
    base, _ = split_legal_suffix(tokens)
    return _collapse_umlauts("".join(base))


def _collapse_umlauts(key: str) -> str:
    return _UMLAUT_PAIR.sub(lambda m: m.group(1) or m.group(2), key)


def _token_regex(token: str) -> str:
    # Umlaut expansions in the declared term ("ue", "oe", "ae", "aa") also
    # match the bare vowel that folding leaves of "ü", "ö", "ä", "å".
    out: list[str] = []
    pos = 0
    for match in _UMLAUT_PAIR.finditer(token):
        out.append(re2.escape(token[pos : match.start()]))
        vowel = match.group(1) or match.group(2)
        tail = "e" if match.group(1) else "a"
        out.append(f"{vowel}(?:{tail})?")
        pos = match.end()
    out.append(re2.escape(token[pos:]))
    return "".join(out)


def _body_regex(term: str, tokens: Sequence[str]) -> str:
    # Join with an "&"-tolerant separator where the declared term had "&"/"+".
    folded = fold(expand_umlauts(term))
    parts: list[str] = []
    cursor = 0
    for index, token in enumerate(tokens):
        at = folded.find(token, cursor)
        if index:
            between = folded[cursor:at] if at >= 0 else ""
            parts.append(_AMP_SEP if ("&" in between or "+" in between) else _SEP)
        parts.append(_token_regex(token))
        cursor = at + len(token) if at >= 0 else cursor
    return "".join(parts)


def _suffix_regex() -> str:
    alternatives = {_SEP.join(re2.escape(t) for t in toks) for toks in _SUFFIX_TOKENS}
    # Short abbreviations are also written letter by letter with dots or a
    # slash: "S.r.l.", "K.K.", "B. V.", "A/S" (a mark is required between letters,
    # or "a g" in running text would read as "AG").
    alternatives |= {
        r"(?:[./]\s?)?".join(toks[0]) for toks in _SUFFIX_TOKENS if len(toks) == 1 and 2 <= len(toks[0]) <= 4
    }
    return "(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + ")"


_SUFFIX_RE = _suffix_regex()
_OPTIONAL_SUFFIXES = rf"(?:\s*,?\s*{_SUFFIX_RE}\b\.?){{0,2}}"
#: After a name in a letter-spaced run: a word boundary and optional suffixes,
#: or a suffix written without a gap ("m u l l e r a g" squeezes to "mullerag").
_SPACED_SUFFIXES = rf"(?:\b{_OPTIONAL_SUFFIXES}|(?:\s*,?\s*{_SUFFIX_RE}\b\.?){{1,2}})"


def _edge(token: str, *, start: bool) -> str:
    # RE2's \b is ASCII-only; a term that begins or ends with a non-ASCII
    # letter (CJK, Cyrillic) gets no boundary on that side rather than never
    # matching.
    char = token[0] if start else token[-1]
    return r"\b" if char.isascii() and char.isalnum() else ""


@dataclass(frozen=True, slots=True)
class DeclaredTerm:
    entity_type: str
    #: the term exactly as declared in the policy
    term: str
    #: "full" for the declared name (any variant), "short name" for the alias
    form: str
    #: the name itself, with its word-boundary edges
    body: str
    #: whether legal suffixes may follow (customers' full names)
    suffixable: bool = False
    #: ``body`` without its closing word boundary (suffixable terms only), so
    #: that a suffix may follow without a gap in a letter-spaced run
    open_body: str = ""

    @property
    def pattern(self) -> str:
        return self.body + (_OPTIONAL_SUFFIXES if self.suffixable else "")

    @property
    def spaced_pattern(self) -> str:
        """The pattern for a squeezed letter-spaced run."""
        if not self.suffixable:
            return self.pattern
        return (self.open_body or self.body) + _SPACED_SUFFIXES


@dataclass(frozen=True, slots=True)
class TermHit:
    entity_type: str
    term: str
    form: str
    start: int
    end: int
    score: float


def build_terms(
    customers: Iterable[str], trade_secrets: Iterable[str], *, short_names: bool = True
) -> list[DeclaredTerm]:
    """Generate the match patterns for every declared term (and short name)."""
    out: list[DeclaredTerm] = []
    for customer in customers:
        tokens = _tokens(customer)
        if not tokens:
            continue
        if has_cjk(customer):
            body, open_body = _cjk_body(customer, legal_forms=True)
            out.append(DeclaredTerm(CUSTOMER, customer, "full", body, suffixable=True, open_body=open_body))
            continue
        base, _ = split_legal_suffix(tokens)
        open_body = _edge(base[0], start=True) + _body_regex(customer, base)
        body = open_body + _edge(base[-1], start=False)
        out.append(DeclaredTerm(CUSTOMER, customer, "full", body, suffixable=True, open_body=open_body))
        if short_names and len(base) >= 2 and _distinctive(base[0], strict=True):
            out.append(DeclaredTerm(CUSTOMER, customer, "short name", rf"\b{_token_regex(base[0])}\b"))
    for secret in trade_secrets:
        tokens = _tokens(secret)
        if not tokens:
            continue
        if has_cjk(secret):
            out.append(DeclaredTerm(TRADE_SECRET, secret, "full", _cjk_body(secret, legal_forms=False)[0]))
            continue
        body = _body_regex(secret, tokens)
        plural = "(?:e?s)?" if tokens[-1].isalpha() and len(tokens[-1]) >= 3 else ""
        pattern = _edge(tokens[0], start=True) + body + plural + _edge(tokens[-1], start=False)
        out.append(DeclaredTerm(TRADE_SECRET, secret, "full", pattern))
    return out


def _options(*, longest: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.longest_match = longest
    # Generous but bounded: thousands of declared names compile well within it.
    options.max_mem = 256 << 20
    return options


def _match_key(text: str) -> str:
    return name_key(text)


def _spaced_keys(matched: str) -> list[str]:
    """Keys a squeezed letter-spaced match may have, its suffix glued on or not.

    ``mullermagnettechnikag`` is one token, so :func:`name_key` cannot split
    the suffix off; try the joined form with up to two suffixes removed.
    """
    keys = ["".join(_tokens(matched))]
    frontier = keys
    for _ in range(2):
        frontier = [k[: -len(x)] for k in frontier for x in _SUFFIX_JOINED if k.endswith(x) and k != x]
        keys = keys + frontier
    return [_collapse_umlauts(key) for key in keys]


#: A letter-spaced run in the matching form (group 1): two or more single
#: characters, each standing alone between whitespace, where a letter may carry
#: an opening bracket or quote before it and closing punctuation or a
#: possessive after it (``(K e s t r e l``, ``G m b H,``, ``A G's``). RE2 has
#: no lookaround, so the surrounding whitespace is consumed; a run is maximal,
#: so two runs never need the same whitespace character.
_SPACED_UNIT = r"[(\['\"]?\S(?:'s|[.,;:!?)\]'\"]){0,2}"
_SPACED_RUN = re2.compile(rf"(?:^|\s)({_SPACED_UNIT}(?:\s+{_SPACED_UNIT})+)(?:\s|$)")
_RUN_PIECE = re.compile(r"\s+|\S")


def _letter_spaced_runs(text: str) -> Iterator[tuple[str, list[int]]]:
    """Each letter-spaced run of folded ``text``, squeezed, with the folded offset of each character.

    One space joins letters; any other gap (wider, or a line break) becomes one
    space between words. A run without a single one-space gap is just
    one-letter words, which normal matching already covers.
    """
    for run in _SPACED_RUN.finditer(text):
        chars: list[str] = []
        where: list[int] = []
        joined = False
        for piece in _RUN_PIECE.finditer(text, run.start(1), run.end(1)):
            value = piece.group()
            if value == " ":
                joined = True
                continue
            chars.append(" " if value.isspace() else value)
            where.append(piece.start())
        if joined:
            yield "".join(chars), where


class _Group:
    """One (entity type, form) group: a combined regex and a key index."""

    def __init__(self, entity_type: str, form: str, members: Sequence[DeclaredTerm]) -> None:
        self.entity_type = entity_type
        self.form = form
        self.members = list(members)
        self.suffixable = any(m.suffixable for m in members)
        # Legal suffixes are shared: appended once after the alternation of
        # names, or thousands of customers would repeat the suffix block.
        names = "|".join(f"(?:{m.body})" for m in members)
        tail = _OPTIONAL_SUFFIXES if self.suffixable else ""
        self.regex = re2.compile(f"(?:{names}){tail}", options=_options(longest=True))
        self.by_key: dict[str, list[DeclaredTerm]] = {}
        for member in members:
            self.by_key.setdefault(_match_key(member.term), []).append(member)
            if form == "short name":
                self.by_key.setdefault(_match_key(_tokens(member.term)[0]), []).append(member)
        self._single: dict[tuple[int, bool], Any] = {}
        self._spaced_regex: Any = None

    def spaced_regex(self) -> Any:
        """The regex for squeezed letter-spaced runs (compiled on first use: runs are rare)."""
        if self._spaced_regex is None:
            if self.suffixable:
                names = "|".join(f"(?:{m.open_body or m.body})" for m in self.members)
                pattern = f"(?:{names}){_SPACED_SUFFIXES}"
                self._spaced_regex = re2.compile(pattern, options=_options(longest=True))
            else:
                self._spaced_regex = self.regex
        return self._spaced_regex

    def identify(self, matched: str, *, spaced: bool = False) -> list[DeclaredTerm]:
        """Which declared term(s) a matched text (or squeezed spaced run) is a form of."""
        key = _match_key(matched)
        found = self.by_key.get(key)
        if found is None and key.endswith("s"):  # plural of a trade-secret phrase
            found = self.by_key.get(key[:-1]) or self.by_key.get(key[:-2])
        if found is None and spaced:
            found = next((self.by_key[k] for k in _spaced_keys(matched) if k in self.by_key), None)
        if found:
            return found[:1] if _same_key(found) else list(found)
        # Rare forms ("&" written "and"): test the members one by one.
        for index, member in enumerate(self.members):
            compiled = self._single.get((index, spaced))
            if compiled is None:
                pattern = member.spaced_pattern if spaced else member.pattern
                compiled = self._single[index, spaced] = re2.compile(pattern, options=_options(longest=True))
            if compiled.fullmatch(matched) is not None:
                return [member]
        return self.members[:1]  # unreachable in practice; never drop a match

    def hits(self, original: str, matched: str, start: int, end: int, *, spaced: bool) -> list[TermHit]:
        """Findings for one match, ``start``/``end`` already in ``original``."""
        if self.form == "short name" and not original[start].isupper():
            # "Kestrel" the customer, not "a kestrel hovered".
            return []
        score = SHORT_NAME_SCORE if self.form == "short name" else DECLARED_SCORE
        return [
            TermHit(self.entity_type, term.term, self.form, start, end, score)
            for term in self.identify(matched, spaced=spaced)
        ]


class TermMatcher:
    """Find every declared term in a text; one RE2 pass per entity type and form.

    Within one (type, form) group the leftmost-longest match wins, so a short
    name inside a full name, or ``Acme`` inside ``Acme Holdings``, yields one
    finding. Different types are matched independently: a phrase that is both a
    customer and a trade secret yields both findings. Letter-spaced runs get
    one more RE2 pass to find them, and the groups then run on each squeezed run.
    """

    def __init__(self, terms: Sequence[DeclaredTerm]) -> None:
        grouped: dict[tuple[str, str], list[DeclaredTerm]] = {}
        for term in terms:
            grouped.setdefault((term.entity_type, term.form), []).append(term)
        self._groups = [_Group(etype, form, members) for (etype, form), members in grouped.items()]

    def find(self, text: str | FoldedText) -> list[TermHit]:
        folded = text if isinstance(text, FoldedText) else FoldedText(text)
        hits: list[TermHit] = []
        for group in self._groups:
            for match in group.regex.finditer(folded.text):
                f_start, f_end = match.span()
                if f_end <= f_start:
                    continue
                start, end = folded.to_original(f_start, f_end)
                hits.extend(group.hits(folded.original, match.group(), start, end, spaced=False))
        hits.extend(self._find_spaced(folded, hits))
        return hits

    def _find_spaced(self, folded: FoldedText, found: Sequence[TermHit]) -> list[TermHit]:
        seen = {(h.entity_type, h.term, h.form, h.start, h.end) for h in found}
        hits: list[TermHit] = []
        for squeezed, where in _letter_spaced_runs(folded.text):
            for group in self._groups:
                for match in group.spaced_regex().finditer(squeezed):
                    s_start, s_end = match.span()
                    if s_end <= s_start:
                        continue
                    # The whole spaced run: first letter to last letter.
                    start, end = folded.to_original(where[s_start], where[s_end - 1] + 1)
                    for hit in group.hits(folded.original, match.group(), start, end, spaced=True):
                        key = (hit.entity_type, hit.term, hit.form, hit.start, hit.end)
                        if key not in seen:
                            seen.add(key)
                            hits.append(hit)
        return hits


def _same_key(terms: Sequence[DeclaredTerm]) -> bool:
    # "Kestrel Dynamics GmbH" and "Kestrel Dynamics AG" declared separately are
    # one customer for labelling purposes; report the first declared.
    return len({name_key(t.term) for t in terms}) == 1
