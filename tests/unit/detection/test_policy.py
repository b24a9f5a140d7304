"""Policy loading: the example, canonical hash, and every error names its field."""

from __future__ import annotations

import json

import pytest
import yaml
from jsonschema import Draft202012Validator

from exchange.domain.detection import load_policy, policy_schema
from exchange.domain.errors import PolicyError


def test_example_policy_loads(policy_text: str) -> None:
    policy = load_policy(policy_text)
    assert policy.version == 1
    assert policy.name == "NdFeB magnets, application 41"
    assert policy.customers[0] == "Kestrel Dynamics GmbH"
    assert policy.patterns == {"PART_NUMBER": r"KD-\d{4}-[A-Z]{2}"}
    bureau, supplier = policy.recipients["bureau"], policy.recipients["supplier"]
    assert bureau.redact == frozenset({"CUSTOMER", "TRADE_SECRET", "PART_NUMBER"})
    assert bureau.keep == ("Oakridge Acoustics Ltd",)
    assert (bureau.style, bureau.mode) == ("box", "surgical")
    assert supplier.style == "label"
    assert supplier.threshold_for("PHONE_NUMBER") == 0.5
    assert "PERSON" in policy.entity_types()
    assert "PART_NUMBER" in policy.entity_types()
    assert policy.source_text == policy_text
    assert len(policy.content_hash) == 64


def test_hash_ignores_formatting_and_json_equals_yaml(policy_text: str) -> None:
    policy = load_policy(policy_text)
    as_json = json.dumps(yaml.safe_load(policy_text), indent=4)
    assert load_policy(as_json).content_hash == policy.content_hash
    assert load_policy("# comment\n" + policy_text).content_hash == policy.content_hash
    changed = policy_text.replace("N52SH-X", "N52SH-Y")
    assert load_policy(changed).content_hash != policy.content_hash


def test_schema_is_valid_and_published() -> None:
    schema = policy_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"] == {
        "const": 1,
        "description": "Policy format version; only 1 exists.",
    }


BASE = """\
version: 1
name: test
terms:
  customers: ["Kestrel Dynamics GmbH"]
  trade_secrets: ["N52SH-X"]
  patterns: {PART_NUMBER: 'KD-\\d{4}'}
recipients:
  bureau:
    redact: [CUSTOMER, PART_NUMBER]
    keep: ["Kestrel Dynamics"]
"""


def error_for(text: str, **kwargs: object) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policy(text, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_base_is_valid() -> None:
    load_policy(BASE)


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "redact: [CUSTOMER, PART_NUMBER]",
            "redact: [CUSTOMER, PERSONS]",
            "recipients.bureau.redact[1]",
            ["unknown entity type 'PERSONS'", "did you mean 'PERSON'", "line 9"],
        ),
        (
            "  bureau:",
            "  auditor:",
            "recipients.auditor",
            ["unknown recipient 'auditor'", "bureau, supplier", "line 8"],
        ),
        (
            'keep: ["Kestrel Dynamics"]',
            'keep: ["Falcon Systems"]',
            "recipients.bureau.keep[0]",
            ["keep term 'Falcon Systems' matches no declared", "line 10"],
        ),
        (
            "'KD-\\d{4}'",
            "'(a)\\1'",
            "terms.patterns.PART_NUMBER",
            ["backreferences are not supported", "RE2", "line 6"],
        ),
        ("'KD-\\d{4}'", "'KD(?=-)'", "terms.patterns.PART_NUMBER", ["lookahead/lookbehind is not supported"]),
        ("'KD-\\d{4}'", "'KD-[0-9'", "terms.patterns.PART_NUMBER", ["pattern refused", "missing ]"]),
        ("'KD-\\d{4}'", "'\\d*'", "terms.patterns.PART_NUMBER", ["matches the empty string"]),
        ("{PART_NUMBER:", "{PERSON:", "terms.patterns.PERSON", ["built-in entity type"]),
        ("{PART_NUMBER:", "{part_number:", "terms.patterns", ["invalid name", "part_number"]),
        ("version: 1", "version: 2", "version", ["1 was expected", "line 1"]),
        ("name: test\n", "", "policy", ["'name' is a required property"]),
        ("    keep:", "    keeps:", "recipients.bureau", ["Additional properties", "keeps"]),
        (
            'customers: ["Kestrel Dynamics GmbH"]',
            'customers: ["Kestrel Dynamics GmbH", 7]',
            "terms.customers[1]",
            ["7 is not of type 'string'", "line 4"],
        ),
        (
            'customers: ["Kestrel Dynamics GmbH"]',
            'customers: ["Kestrel Dynamics GmbH", "X"]',
            "terms.customers[1]",
            ["too short"],
        ),
        (
            "    redact: [CUSTOMER, PART_NUMBER]",
            "    redact: [CUSTOMER, PART_NUMBER]\n    style: boxed",
            "recipients.bureau.style",
            ["'boxed' is not one of"],
        ),
        (
            "    redact: [CUSTOMER, PART_NUMBER]",
            "    redact: [CUSTOMER, PART_NUMBER]\n    thresholds: {PERSN: 0.5}",
            "recipients.bureau.thresholds.PERSN",
            ["unknown entity type 'PERSN'"],
        ),
        (
            "    redact: [CUSTOMER, PART_NUMBER]",
            "    redact: [CUSTOMER, PART_NUMBER]\n    thresholds: {PERSON: 1.5}",
            "recipients.bureau.thresholds.PERSON",
            ["1.5 is greater than the maximum"],
        ),
        ("name: test", "name: test\nname: again", "policy", ["duplicate key 'name'", "line 3"]),
    ],
)
def test_errors_name_the_field(old: str, new: str, field: str, words: list[str]) -> None:
    assert old in BASE
    error = error_for(BASE.replace(old, new, 1))
    assert error.field == field, error.message
    assert error.message.startswith(field + ": ")
    for word in words:
        assert word in error.message


def test_pattern_refusal_says_why() -> None:
    message = error_for(BASE.replace("'KD-\\d{4}'", "'(?<=x)KD'")).message
    assert "linear-time" in message
    assert "hang a worker" in message


def test_catastrophic_pattern_is_linear_on_re2() -> None:
    # (a+)+$ compiles on RE2 and cannot backtrack; the scan must be instant.
    policy = load_policy(BASE.replace("'KD-\\d{4}'", "'(a+)+$'"))
    import time

    from exchange.domain.detection.patterns import PatternMatcher

    matcher = PatternMatcher(policy.patterns)
    started = time.perf_counter()
    assert matcher.find("a" * 50_000 + "!") == []
    assert time.perf_counter() - started < 1.0


def test_allowed_recipients_is_a_parameter() -> None:
    policy = load_policy(BASE.replace("  bureau:", "  auditor:"), allowed_recipients=("auditor",))
    assert set(policy.recipients) == {"auditor"}


def test_yaml_aliases_are_refused() -> None:
    text = BASE.replace('customers: ["Kestrel Dynamics GmbH"]', 'customers: &c ["Kestrel Dynamics GmbH"]')
    text = text.replace('trade_secrets: ["N52SH-X"]', "trade_secrets: *c")
    assert "anchors and aliases" in error_for(text).message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("version: [1\n", ["not valid YAML", "line"]),
        ('{"version": 1,', ["not valid JSON", "line 1"]),
        ("- a list\n", ["must be a mapping"]),
        ("", ["must be a mapping"]),
    ],
)
def test_unparseable_input(text: str, words: list[str]) -> None:
    message = error_for(text).message
    for word in words:
        assert word in message


def test_keep_may_name_short_name_or_pattern_value() -> None:
    load_policy(
        BASE.replace('keep: ["Kestrel Dynamics"]', 'keep: ["KESTREL", "KD-1234", "kestrel dynamics ag"]')
    )


def test_size_caps() -> None:
    many = ", ".join(f'"Customer {i}"' for i in range(5001))
    assert "too long" in error_for(BASE.replace('["Kestrel Dynamics GmbH"]', f"[{many}]")).message
    assert "larger than" in error_for(BASE + "#" * 1_000_001).message


@pytest.mark.parametrize(
    "text", ["[" * 20000 + "]" * 20000, "version: 1\nterms: " + "[" * 20000 + "]" * 20000]
)
def test_deeply_nested_policy_is_refused_clearly(text: str) -> None:
    with pytest.raises(PolicyError, match="nested too deeply"):
        load_policy(text)
