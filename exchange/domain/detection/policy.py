"""The redaction policy, format v1: parsing, validation, canonical hash.

A policy is YAML or JSON written by an applicant. It is validated in two steps:
structure against the published JSON Schema (``policy.schema.json``), then
meaning (entity types exist, recipients belong to the case, keep terms designate
something declared, patterns compile on RE2). Every error is a
:class:`~exchange.domain.errors.PolicyError` naming the field path and, where
the source has one, the line: ``recipients.supplier.redact[2]: unknown entity
type 'PERSONS' … (line 14)``.

Invariants:

* A :class:`Policy` that exists is valid; engines never re-validate.
* ``content_hash`` is the SHA-256 of the canonical JSON form (sorted keys, no
  insignificant whitespace, UTF-8), so reformatting or comments do not change
  it, and any change of meaning does.
* YAML anchors/aliases and duplicate keys are refused: aliases allow
  exponential expansion ("billion laughs"), duplicate keys silently drop an
  author's intent.
* Sizes are bounded (document bytes, number and length of terms and patterns)
  so that a policy cannot make detection slow or memory-hungry.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from exchange.domain.detection.normalise import fold
from exchange.domain.detection.patterns import compile_pattern
from exchange.domain.detection.terms import CUSTOMER, TRADE_SECRET, _tokens, name_key, split_legal_suffix
from exchange.domain.errors import PolicyError

MAX_POLICY_BYTES = 1_000_000
DEFAULT_RECIPIENTS = ("bureau", "supplier")
#: A finding below its recipient's threshold is kept; declared terms score 1.0
#: (short names 0.9), so this only filters guesses. 0.3 lets Presidio's
#: context-free phone numbers (0.4) through: for leaks, recall beats precision.
DEFAULT_THRESHOLD = 0.3

#: Built-in (Presidio) entity types a policy may name. Kept in sync with the
#: engine by a unit test.
PRESIDIO_ENTITY_TYPES = frozenset(
    {
        "PERSON",
        "ORGANIZATION",
        "LOCATION",
        "NRP",
        "DATE_TIME",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "IBAN_CODE",
        "CREDIT_CARD",
        "CRYPTO",
        "URL",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "UUID",
        "MEDICAL_LICENSE",
        "UK_NHS",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_ITIN",
        "US_PASSPORT",
        "US_SSN",
    }
)
DECLARED_ENTITY_TYPES = frozenset({CUSTOMER, TRADE_SECRET})

Style = Literal["box", "label"]
Mode = Literal["surgical", "rasterize"]
Images = Literal["redact", "remove", "keep"]
Videos = Literal["redact", "exclude"]


@dataclass(frozen=True)
class RecipientPolicy:
    name: str
    redact: frozenset[str]
    keep: tuple[str, ...] = ()
    style: Style = "box"
    thresholds: dict[str, float] = field(default_factory=dict)
    #: PDF engine: "surgical" removes text objects, "rasterize" renders pages.
    mode: Mode = "surgical"
    #: pixels: OCR and box findings ("redact"), solid placeholder ("remove"), or "keep"
    images: Images = "redact"
    #: videos: redact frames ("redact") or leave them out of this recipient's bundle ("exclude")
    videos: Videos = "redact"

    def threshold_for(self, entity_type: str) -> float:
        return self.thresholds.get(entity_type, self.thresholds.get("default", DEFAULT_THRESHOLD))

    def __hash__(self) -> int:
        return hash((self.name, self.redact, self.keep, self.style, self.mode, self.images, self.videos))


@dataclass(frozen=True)
class Policy:
    version: int
    name: str
    customers: tuple[str, ...]
    trade_secrets: tuple[str, ...]
    patterns: dict[str, str]
    recipients: dict[str, RecipientPolicy]
    source_text: str = field(repr=False)
    content_hash: str
    #: match the distinctive first word of a customer name on its own
    short_names: bool = True
    #: the validated document, as parsed (what ``content_hash`` covers)
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def entity_types(self) -> set[str]:
        """Every entity type this policy can produce or name."""
        types = set(DECLARED_ENTITY_TYPES) | set(self.patterns)
        for recipient in self.recipients.values():
            types |= recipient.redact
        return types

    def recipient(self, name: str) -> RecipientPolicy:
        try:
            return self.recipients[name]
        except KeyError:
            known = ", ".join(sorted(self.recipients))
            raise PolicyError(
                f"unknown recipient '{name}' (this policy has: {known})", field="recipient"
            ) from None

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other.content_hash == self.content_hash


@cache
def policy_schema() -> dict[str, Any]:
    """The published JSON Schema of policy format v1 (do not mutate)."""
    text = resources.files("exchange.domain.detection").joinpath("policy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(policy_schema())
    return Draft202012Validator(policy_schema())


# --- source locations ------------------------------------------------------

Path = tuple[str | int, ...]


class _Locator:
    """Map a field path to the line it is written on (YAML or JSON source)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return
        if root is not None:
            self._walk(root, (), set())

    def _walk(self, node: yaml.Node, path: Path, seen: set[int]) -> None:
        if id(node) in seen:
            raise PolicyError(
                "YAML anchors and aliases are not allowed in a policy" + self.suffix_for_node(node),
                field=_path_text(path),
            )
        seen.add(id(node))
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in keys:
                    raise PolicyError(
                        f"duplicate key '{key}'" + self.suffix_for_node(key_node), field=_path_text(path)
                    )
                keys.add(key)
                self._walk(value_node, (*path, key), seen)
                self.lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index), seen)

    @staticmethod
    def suffix_for_node(node: yaml.Node) -> str:
        return f" (line {node.start_mark.line + 1})"

    def line(self, path: Sequence[str | int]) -> str:
        path = tuple(path)
        while path:
            if path in self.lines:
                return f" (line {self.lines[path]})"
            path = path[:-1]
        return ""


def _path_text(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "policy"


def _fail(locator: _Locator, path: Sequence[str | int], message: str) -> PolicyError:
    return PolicyError(message + locator.line(path), field=_path_text(path))


# --- parsing ------------------------------------------------------------------


def _parse(text: str) -> Any:
    try:
        return _parse_document(text)
    except RecursionError:
        # Both parsers recurse once per nesting level; a hostile document exhausts the stack.
        raise PolicyError("the policy is nested too deeply") from None


def _parse_document(text: str) -> Any:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "syntax error"
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PolicyError(f"not valid YAML: {problem}{where}") from None


def _schema_error(error: ValidationError, locator: _Locator) -> PolicyError:
    path = list(error.absolute_path)
    # jsonschema quotes the whole offending value; for size rules that can be
    # thousands of names, so say it in words instead.
    size_rules = {
        "maxItems": lambda: f"too long: {len(error.instance)} entries, at most {error.validator_value}",
        "maxProperties": lambda: f"too long: {len(error.instance)} entries, at most {error.validator_value}",
        "maxLength": lambda: f"too long: {len(error.instance)} characters, at most {error.validator_value}",
        "minLength": lambda: "must not be empty",
        "minProperties": lambda: "must not be empty",
        "uniqueItems": lambda: "entries must be unique",
    }
    rule = size_rules.get(str(error.validator))
    message = rule() if rule is not None else error.message
    if len(message) > 300:
        message = message[:297] + "..."
    if "propertyNames" in error.schema_path:
        # The error is about a key; say so, and name the rule in words.
        allowed = "upper case letters, digits and _" if "A-Z" in str(error.validator_value) else "lower case"
        message = f"invalid name {error.instance!r} (use {allowed}; {message})"
    return _fail(locator, path, message)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _dedupe(values: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        key = fold(value)
        if key not in seen:
            seen.add(key)
            out.append(value.strip())
    return tuple(out)


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_policy(text: str, allowed_recipients: Sequence[str] = DEFAULT_RECIPIENTS) -> Policy:
    """Parse, validate and freeze a policy; raise ``PolicyError`` naming the field."""
    if not isinstance(text, str):
        raise PolicyError("the policy must be text (YAML or JSON)")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        raise PolicyError(f"the policy is larger than {MAX_POLICY_BYTES // 1000} kB")
    document = _parse(text)
    locator = _Locator(text)
    if not isinstance(document, dict):
        raise PolicyError("the policy must be a mapping with version, name, terms and recipients")
    errors = sorted(_validator().iter_errors(document), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        raise _schema_error(errors[0], locator)

    terms = document.get("terms", {})
    customers = _dedupe(terms.get("customers", []))
    secrets = _dedupe(terms.get("trade_secrets", []))
    patterns: dict[str, str] = dict(terms.get("patterns", {}))

    for kind, values in (
        ("customers", terms.get("customers", [])),
        ("trade_secrets", terms.get("trade_secrets", [])),
    ):
        for index, value in enumerate(values):
            if sum(ch.isalnum() for ch in value) < 2:
                raise _fail(
                    locator,
                    ("terms", kind, index),
                    f"'{value}' is too short to match safely (need 2 letters or digits)",
                )

    for name, source in patterns.items():
        path = ("terms", "patterns", name)
        if name in PRESIDIO_ENTITY_TYPES or name in DECLARED_ENTITY_TYPES:
            raise _fail(
                locator, path, f"the pattern name '{name}' is a built-in entity type; choose another name"
            )
        try:
            compile_pattern(source)
        except ValueError as exc:
            raise _fail(locator, path, str(exc)) from None

    known_types = PRESIDIO_ENTITY_TYPES | DECLARED_ENTITY_TYPES | set(patterns)
    allowed = tuple(allowed_recipients)
    recipients: dict[str, RecipientPolicy] = {}
    for rname, spec in document["recipients"].items():
        rpath: tuple[str, ...] = ("recipients", rname)
        if rname not in allowed:
            raise _fail(
                locator,
                rpath,
                f"unknown recipient '{rname}'; this case's recipients are {', '.join(allowed)}"
                + _suggest(rname, allowed),
            )
        for index, etype in enumerate(spec["redact"]):
            if etype not in known_types:
                raise _fail(
                    locator,
                    (*rpath, "redact", index),
                    f"unknown entity type '{etype}'" + _suggest(etype, sorted(known_types)),
                )
        thresholds = dict(spec.get("thresholds", {}))
        for etype in thresholds:
            if etype != "default" and etype not in known_types:
                raise _fail(
                    locator,
                    (*rpath, "thresholds", etype),
                    f"unknown entity type '{etype}'" + _suggest(etype, sorted(known_types)),
                )
        keep = _dedupe(spec.get("keep", []))
        for index, term in enumerate(spec.get("keep", [])):
            if not _keep_designates(term, customers, secrets, patterns):
                raise _fail(
                    locator,
                    (*rpath, "keep", index),
                    f"keep term '{term}' matches no declared customer, trade secret or named pattern",
                )
        recipients[rname] = RecipientPolicy(
            name=rname,
            redact=frozenset(spec["redact"]),
            keep=keep,
            style=spec.get("style", "box"),
            thresholds={k: float(v) for k, v in thresholds.items()},
            mode=spec.get("mode", "surgical"),
            images=spec.get("images", "redact"),
            videos=spec.get("videos", "redact"),
        )

    return Policy(
        version=int(document["version"]),
        name=str(document["name"]),
        customers=customers,
        trade_secrets=secrets,
        patterns=patterns,
        recipients=recipients,
        source_text=text,
        content_hash=hashlib.sha256(canonical_json(document)).hexdigest(),
        short_names=bool(document.get("matching", {}).get("short_names", True)),
        document=document,
    )


def declared_keys(term: str) -> set[str]:
    """Keys under which a declared term may be designated (full, base, short name)."""
    keys = {name_key(term), fold(term)}
    base, _ = split_legal_suffix(_tokens(term))
    if len(base) >= 2:
        keys.add(name_key(base[0]))
    return keys


def _keep_designates(
    term: str, customers: Sequence[str], secrets: Sequence[str], patterns: Mapping[str, str]
) -> bool:
    wanted = {name_key(term), fold(term)}
    for declared in (*customers, *secrets):
        if wanted & declared_keys(declared):
            return True
    return any(compile_pattern(src).fullmatch(term.strip()) is not None for src in patterns.values())
