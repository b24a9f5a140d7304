"""The policy editor's form: form fields <-> policy document <-> YAML text.

The form is a view of a policy document, not a second format. What is saved
is :func:`policy_text` of :func:`document_from_form`, and it is validated by
:func:`~exchange.domain.detection.policy.load_policy` like any hand-written
policy, so the form accepts exactly what the raw editor accepts and shows the
same errors. :func:`error_field` places a loader error next to the form field
it is about.

Invariants:

* ``form_from_document(document_from_form(f)) == f`` for every form ``f`` the
  parser can produce, and for every valid document ``d``,
  ``load_policy`` of ``policy_text(document_from_form(form_from_document(d)))``
  is the same policy (names, terms, patterns, per-recipient settings,
  thresholds, matching). Defaults are written out (``style: box`` ...), so the
  text, and with it ``content_hash``, may differ from a hand-written original
  while the meaning does not. YAML comments are not kept.
* Nothing in a document is lost through the form: description, matching and
  thresholds travel with it.
* Fail closed: a pattern the form has not shown before (a new one, or a
  renamed one) is redacted for every recipient until it is unticked; a
  recipient marked strict is left out of the document, which the loader
  reads as "redact everything found" for that recipient.
* Untrusted input: every value is a string from a browser. The parser bounds
  how many rows it reads before building anything; the loader bounds the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from exchange.domain.detection.patterns import PatternMatcher
from exchange.domain.detection.policy import DEFAULT_RECIPIENTS, policy_schema
from exchange.domain.detection.terms import CUSTOMER, TRADE_SECRET
from exchange.domain.errors import PolicyError

#: The built-in entity types in the order the form lists them: declared terms
#: first, then what leaks most often, then the rarer national identifiers.
BUILT_IN_TYPES: tuple[str, ...] = (
    CUSTOMER,
    TRADE_SECRET,
    "PERSON",
    "ORGANIZATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "LOCATION",
    "URL",
    "IP_ADDRESS",
    "IBAN_CODE",
    "CREDIT_CARD",
    "US_BANK_NUMBER",
    "CRYPTO",
    "DATE_TIME",
    "NRP",
    "MAC_ADDRESS",
    "UUID",
    "MEDICAL_LICENSE",
    "UK_NHS",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
)
STYLES = ("box", "label")
MODES = ("surgical", "rasterize")
IMAGES = ("redact", "remove", "keep")
VIDEOS = ("redact", "exclude")
#: What the loader assumes when a recipient does not say.
DEFAULTS = {"style": "box", "mode": "surgical", "images": "redact", "videos": "redact"}
SETTINGS = tuple(DEFAULTS)
#: Rows the parser reads at most per list (the schema's own limits are lower or equal).
MAX_ROWS = 5000
MAX_PATTERN_ROWS = 60

_LINE_SUFFIX = re.compile(r" \(line \d+(, column \d+)?\)$")


@dataclass(frozen=True)
class RecipientFields:
    """One recipient's part of the form."""

    name: str
    #: not named in the policy: everything found is redacted (the loader's rule)
    strict: bool = False
    redact: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    style: str = DEFAULTS["style"]
    mode: str = DEFAULTS["mode"]
    images: str = DEFAULTS["images"]
    videos: str = DEFAULTS["videos"]
    thresholds: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PolicyFields:
    """The whole form, as plain values."""

    name: str
    description: str = ""
    customers: tuple[str, ...] = ()
    trade_secrets: tuple[str, ...] = ()
    #: (name, regular expression), in the author's order
    patterns: tuple[tuple[str, str], ...] = ()
    short_names: bool = True
    recipients: tuple[RecipientFields, ...] = field(default_factory=tuple)

    def entity_types(self) -> tuple[str, ...]:
        """Every type a recipient can redact under this form, in the form's order."""
        return entity_types(name for name, _ in self.patterns)

    def recipient(self, name: str) -> RecipientFields:
        for recipient in self.recipients:
            if recipient.name == name:
                return recipient
        raise KeyError(name)


def entity_types(pattern_names: Iterable[str]) -> tuple[str, ...]:
    """Declared types, then the named patterns, then the built-in recognisers' types."""
    names = [n for n in pattern_names if n and n not in BUILT_IN_TYPES]
    return (CUSTOMER, TRADE_SECRET, *dict.fromkeys(names), *BUILT_IN_TYPES[2:])


def _pattern_name_rule() -> re.Pattern[str]:
    rule = policy_schema()["properties"]["terms"]["properties"]["patterns"]["propertyNames"]["pattern"]
    return re.compile(rule)


# --- document -> form -----------------------------------------------------------


def form_from_document(
    document: Mapping[str, Any], recipients: Sequence[str] = DEFAULT_RECIPIENTS
) -> PolicyFields:
    """The form showing a (valid) policy document; the case's recipients first, in their order."""
    terms = document.get("terms") or {}
    patterns = tuple((str(k), str(v)) for k, v in dict(terms.get("patterns") or {}).items())
    types = entity_types(name for name, _ in patterns)
    named = dict(document.get("recipients") or {})
    rows: list[RecipientFields] = []
    for rname in (*recipients, *(r for r in named if r not in recipients)):
        spec = named.get(rname)
        if spec is None:
            # The loader redacts everything found for a recipient the policy does not name.
            rows.append(RecipientFields(name=rname, strict=True, redact=types))
            continue
        redact = set(spec.get("redact") or ())
        rows.append(
            RecipientFields(
                name=rname,
                redact=tuple(t for t in types if t in redact) + tuple(sorted(redact - set(types))),
                keep=tuple(str(k) for k in spec.get("keep") or ()),
                style=str(spec.get("style", DEFAULTS["style"])),
                mode=str(spec.get("mode", DEFAULTS["mode"])),
                images=str(spec.get("images", DEFAULTS["images"])),
                videos=str(spec.get("videos", DEFAULTS["videos"])),
                thresholds=tuple((str(k), float(v)) for k, v in dict(spec.get("thresholds") or {}).items()),
            )
        )
    matching = document.get("matching") or {}
    return PolicyFields(
        name=str(document.get("name") or ""),
        description=str(document.get("description") or ""),
        customers=tuple(str(c) for c in terms.get("customers") or ()),
        trade_secrets=tuple(str(s) for s in terms.get("trade_secrets") or ()),
        patterns=patterns,
        short_names=bool(matching.get("short_names", True)),
        recipients=tuple(rows),
    )


# --- form -> document -> text --------------------------------------------------------


def document_from_form(form: PolicyFields) -> dict[str, Any]:
    """The policy document the form describes, defaults written out, in a stable key order."""
    terms: dict[str, Any] = {"customers": list(form.customers), "trade_secrets": list(form.trade_secrets)}
    if form.patterns:
        terms["patterns"] = dict(form.patterns)
    document: dict[str, Any] = {"version": 1, "name": form.name}
    if form.description:
        document["description"] = form.description
    document["terms"] = terms
    if not form.short_names:
        document["matching"] = {"short_names": False}
    recipients: dict[str, Any] = {}
    for recipient in form.recipients:
        if recipient.strict:
            continue
        spec: dict[str, Any] = {"redact": list(recipient.redact)}
        if recipient.keep:
            spec["keep"] = list(recipient.keep)
        for key in SETTINGS:
            spec[key] = getattr(recipient, key)
        if recipient.thresholds:
            spec["thresholds"] = dict(recipient.thresholds)
        recipients[recipient.name] = spec
    document["recipients"] = recipients
    return document


def policy_text(document: Mapping[str, Any]) -> str:
    """YAML for a document, readable in the advanced editor (short lists on one line)."""
    return yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )


# --- HTTP form -> form ------------------------------------------------------------------


def fields_from_form(
    data: Mapping[str, Sequence[str]], recipients: Sequence[str] = DEFAULT_RECIPIENTS
) -> tuple[PolicyFields, dict[str, str]]:
    """Parse a submitted form (each field name to its list of values).

    Returns the form as the person filled it in (to show it again) and the
    errors found before the loader runs, by field id; save only when empty.

    Field names: ``name``, ``description``, ``customers`` and ``trade_secrets``
    (one per line), ``short_names``, ``pattern_name``/``pattern_regex`` (one
    pair per row), ``known_patterns`` (the pattern names the form showed
    checkboxes for), and per recipient ``<r>-strict``, ``<r>-redact`` (one per
    ticked type), ``<r>-keep`` (one per line), ``<r>-style``, ``<r>-mode``,
    ``<r>-images``, ``<r>-videos`` and ``<r>-thresholds`` (``TYPE=0.5``, comma
    or line separated).
    """
    errors: dict[str, str] = {}

    def one(key: str, default: str = "") -> str:
        values = data.get(key) or ()
        return str(values[0]) if values else default

    def many(key: str, limit: int) -> list[str]:
        values = [str(v) for v in data.get(key) or ()]
        if len(values) > limit:
            errors.setdefault(key, f"too many values ({len(values)}, at most {limit})")
            return values[:limit]
        return values

    def lines(key: str) -> tuple[str, ...]:
        found = [line.strip() for line in one(key).splitlines() if line.strip()]
        if len(found) > MAX_ROWS:
            errors.setdefault(key, f"too many lines ({len(found)}, at most {MAX_ROWS})")
            return tuple(found[:MAX_ROWS])
        return tuple(found)

    rows_in = many("pattern_name", MAX_PATTERN_ROWS), many("pattern_regex", MAX_PATTERN_ROWS)
    patterns = _patterns(*rows_in, errors)
    names = [name for name, _ in patterns]
    types = entity_types(names)
    known = set(many("known_patterns", MAX_PATTERN_ROWS))
    unseen = [name for name in names if name not in known]
    rows = []
    for rname in recipients:
        if one(f"{rname}-strict"):
            # The settings of a strict recipient are not saved; show it as the loader reads it.
            rows.append(RecipientFields(name=rname, strict=True, redact=types))
            continue
        ticked = set(many(f"{rname}-redact", len(types) + MAX_PATTERN_ROWS))
        # A pattern the form did not show yet cannot have been unticked: redact it (fail closed).
        ticked.update(unseen)
        rows.append(
            RecipientFields(
                name=rname,
                # Ticks for a pattern that was removed or renamed are dropped with it.
                redact=tuple(t for t in types if t in ticked),
                keep=lines(f"{rname}-keep"),
                style=one(f"{rname}-style", DEFAULTS["style"]).strip(),
                mode=one(f"{rname}-mode", DEFAULTS["mode"]).strip(),
                images=one(f"{rname}-images", DEFAULTS["images"]).strip(),
                videos=one(f"{rname}-videos", DEFAULTS["videos"]).strip(),
                thresholds=_thresholds(one(f"{rname}-thresholds"), f"{rname}-thresholds", errors),
            )
        )
    fields = PolicyFields(
        name=one("name").strip(),
        description=one("description").strip(),
        customers=lines("customers"),
        trade_secrets=lines("trade_secrets"),
        patterns=patterns,
        short_names=bool(one("short_names")),
        recipients=tuple(rows),
    )
    return fields, errors


def form_data(form: PolicyFields) -> dict[str, list[str]]:
    """What the page submits for ``form`` (the inverse of :func:`fields_from_form`)."""
    data: dict[str, list[str]] = {
        "name": [form.name],
        "description": [form.description],
        "customers": ["\n".join(form.customers)],
        "trade_secrets": ["\n".join(form.trade_secrets)],
        "pattern_name": [name for name, _ in form.patterns],
        "pattern_regex": [source for _, source in form.patterns],
        "known_patterns": [name for name, _ in form.patterns],
    }
    if form.short_names:
        data["short_names"] = ["1"]
    for recipient in form.recipients:
        r = recipient.name
        if recipient.strict:
            data[f"{r}-strict"] = ["1"]
        data[f"{r}-redact"] = list(recipient.redact)
        data[f"{r}-keep"] = ["\n".join(recipient.keep)]
        for key in SETTINGS:
            data[f"{r}-{key}"] = [getattr(recipient, key)]
        data[f"{r}-thresholds"] = [thresholds_text(recipient.thresholds)]
    return data


def thresholds_text(thresholds: Sequence[tuple[str, float]]) -> str:
    """Thresholds as the form shows them: ``default=0.5, PERSON=0.7``."""
    return ", ".join(f"{key}={value:g}" for key, value in thresholds)


def _patterns(names: list[str], sources: list[str], errors: dict[str, str]) -> tuple[tuple[str, str], ...]:
    rule = _pattern_name_rule()
    out: list[tuple[str, str]] = []
    for index in range(max(len(names), len(sources))):
        name = names[index].strip() if index < len(names) else ""
        # A regular expression is kept as typed: leading spaces may be meant.
        source = sources[index] if index < len(sources) else ""
        if not name and not source:
            continue
        # Errors are keyed by the row as the form will show it again (blank rows dropped).
        where = f"pattern-{len(out)}"
        if not name:
            errors[where] = "give the pattern a name, e.g. PART_NUMBER"
        elif not rule.fullmatch(name):
            errors[where] = (
                f"invalid name {name!r}: 2 to 40 upper case letters, digits and _, starting with a letter"
            )
        elif any(name == other for other, _ in out):
            errors[where] = f"the name {name} is used by another pattern"
        out.append((name, source))
    return tuple(out)


def _thresholds(text: str, field_id: str, errors: dict[str, str]) -> tuple[tuple[str, float], ...]:
    out: dict[str, float] = {}
    for item in re.split(r"[,\n]", text):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not key.strip() or math.isnan(number):
            errors[field_id] = f"write thresholds as TYPE=0.5, separated by commas (not {item.strip()!r})"
            continue
        out[key.strip()] = number
    return tuple(out.items())


# --- loader errors -> form fields ---------------------------------------------------------


def error_field(error: PolicyError, form: PolicyFields) -> str:
    """The id of the form field a loader error is about (``policy`` when none fits)."""
    path = error.field or ""
    parts = re.findall(r"[^.\[\]]+", path)
    if not parts:
        return "policy"
    head = parts[0]
    if head in ("name", "description"):
        return head
    if head == "matching":
        return "short_names"
    if head == "terms" and len(parts) > 1:
        if parts[1] in ("customers", "trade_secrets"):
            return parts[1]
        if parts[1] == "patterns" and len(parts) > 2:
            for index, (name, _) in enumerate(form.patterns):
                if name == parts[2]:
                    return f"pattern-{index}"
        return "patterns"
    if head == "recipients" and len(parts) > 1:
        rname = parts[1]
        if any(r.name == rname for r in form.recipients):
            key = parts[2] if len(parts) > 2 else "redact"
            return (
                f"{rname}-{key}" if key in ("redact", "keep", "thresholds", *SETTINGS) else f"{rname}-redact"
            )
    return "policy"


def error_text(error: PolicyError) -> str:
    """The loader's message without its field path and line, for display next to the field."""
    message = error.message
    if error.field and message.startswith(error.field + ": "):
        message = message[len(error.field) + 2 :]
    return _LINE_SUFFIX.sub("", message)


# --- the live pattern test ------------------------------------------------------------

#: Sample text the live test box sends at most (characters); detection itself scans whole files.
MAX_SAMPLE_CHARS = 20_000
MAX_SAMPLE_MATCHES = 1_000


def pattern_matches(pattern: str, text: str) -> tuple[list[tuple[int, int]], bool]:
    """Where detection would find ``pattern`` in ``text``: (start, end) in code points, and truncated.

    Runs the detector's own matcher (RE2, same options and refusals), so the
    test box shows what detection does. Raises ValueError with a one-line reason.
    """
    limit = policy_schema()["properties"]["terms"]["properties"]["patterns"]["additionalProperties"]
    if not pattern:
        raise ValueError("the pattern is empty")
    if len(pattern) > int(limit["maxLength"]):
        raise ValueError(f"the pattern is longer than {limit['maxLength']} characters")
    if len(text) > MAX_SAMPLE_CHARS:
        raise ValueError(f"the sample text is longer than {MAX_SAMPLE_CHARS} characters")
    hits = PatternMatcher({"SAMPLE": pattern}).find(text)
    spans = [(hit.start, hit.end) for hit in hits[:MAX_SAMPLE_MATCHES]]
    return spans, len(hits) > MAX_SAMPLE_MATCHES
