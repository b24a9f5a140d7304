"""The policy editor's form <-> document <-> YAML conversion, checked through the real loader."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.patterns import PatternMatcher
from exchange.domain.detection.policy import DECLARED_ENTITY_TYPES, PRESIDIO_ENTITY_TYPES, Policy
from exchange.domain.detection.policy_form import (
    BUILT_IN_TYPES,
    PolicyFields,
    RecipientFields,
    document_from_form,
    entity_types,
    error_field,
    error_text,
    fields_from_form,
    form_data,
    form_from_document,
    pattern_matches,
    policy_text,
)
from exchange.domain.errors import PolicyError

ROOT = Path(__file__).resolve().parents[3]


def example_policies() -> list[tuple[str, str]]:
    """Every valid policy written out in the tests and the README, with where it came from."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and "version" in text and "recipients" in text:
                try:
                    load_policy(text)
                except PolicyError:
                    continue  # a test's deliberately broken policy
                found.setdefault(text, f"{path.relative_to(ROOT)}:{node.lineno}")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```yaml\n(.*?)```", readme, re.S):
        found.setdefault(block, "README.md")
    return [(where, text) for text, where in found.items()]


EXAMPLES = example_policies()


def same_meaning(a: Policy, b: Policy) -> None:
    assert (a.name, a.customers, a.trade_secrets) == (b.name, b.customers, b.trade_secrets)
    assert a.patterns == b.patterns
    assert a.short_names == b.short_names
    assert a.recipients == b.recipients  # redact, keep, style, mode, images, videos, thresholds
    assert a.document.get("description") == b.document.get("description")


def test_the_examples_were_found() -> None:
    wheres = [where for where, _ in EXAMPLES]
    assert "README.md" in wheres
    assert len(EXAMPLES) >= 10, wheres


@pytest.mark.parametrize(("where", "text"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_example_policy_round_trips(where: str, text: str) -> None:
    original = load_policy(text)
    form = form_from_document(original.document)
    written = policy_text(document_from_form(form))
    again = load_policy(written)
    same_meaning(original, again)
    # The form's own output is a fixed point: form -> text -> form -> text changes nothing.
    assert form_from_document(again.document) == form
    assert policy_text(document_from_form(form_from_document(again.document))) == written
    # And what the page submits parses back to the same form, without errors.
    assert fields_from_form(form_data(form)) == (form, {})


EVERY_FIELD = PolicyFields(
    name="稀土磁体 application 7",
    description="Customers of the Ningbo plant.\nSecond line.",
    customers=("Kestrel Dynamics GmbH", "宁波瀚海磁电有限公司", "Müller Magnet AG"),
    trade_secrets=("grain boundary diffusion", "N52SH-X"),
    patterns=(("PART_NUMBER", r"KD-\d{4}-[A-Z]{2}"), ("ORDER_REF", r"(?i)ord[ -]?\d{5}")),
    short_names=False,
    recipients=(
        RecipientFields(
            name="bureau",
            redact=("TRADE_SECRET", "PART_NUMBER", "EMAIL_ADDRESS"),
            keep=("KD-0001-AA",),
            style="label",
            mode="rasterize",
            images="remove",
            videos="exclude",
            thresholds=(("default", 0.5), ("EMAIL_ADDRESS", 0.75)),
        ),
        RecipientFields(
            name="supplier",
            redact=("CUSTOMER", "TRADE_SECRET", "PART_NUMBER", "ORDER_REF", "PERSON", "PHONE_NUMBER"),
            keep=("Müller Magnet AG",),
            images="keep",
        ),
    ),
)


def test_every_field_survives_the_page_the_text_and_the_loader() -> None:
    parsed, errors = fields_from_form(form_data(EVERY_FIELD))
    assert errors == {} and parsed == EVERY_FIELD
    text = policy_text(document_from_form(parsed))
    policy = load_policy(text)
    assert form_from_document(policy.document) == EVERY_FIELD
    bureau, supplier = policy.recipients["bureau"], policy.recipients["supplier"]
    assert (bureau.style, bureau.mode) == ("label", "rasterize")
    assert (bureau.images, bureau.videos) == ("remove", "exclude")
    assert bureau.thresholds == {"default": 0.5, "EMAIL_ADDRESS": 0.75} and bureau.keep == ("KD-0001-AA",)
    assert supplier.images == "keep" and supplier.keep == ("Müller Magnet AG",)
    assert policy.short_names is False and policy.document["description"] == EVERY_FIELD.description
    assert policy.patterns == dict(EVERY_FIELD.patterns)
    # Readable YAML: CJK as text, regular expressions unmangled.
    assert "宁波瀚海磁电有限公司" in text and r"KD-\d{4}-[A-Z]{2}" in text


def test_form_values_are_trimmed_and_blank_lines_dropped() -> None:
    data = form_data(EVERY_FIELD)
    data["customers"] = ["  Kestrel Dynamics GmbH  \r\n\r\n宁波瀚海磁电有限公司\n   \n"]
    data["name"] = ["  spaced  "]
    data["pattern_name"] += ["", ""]
    data["pattern_regex"] += ["", ""]
    form, errors = fields_from_form(data)
    assert errors == {}
    assert form.customers == ("Kestrel Dynamics GmbH", "宁波瀚海磁电有限公司") and form.name == "spaced"
    assert len(form.patterns) == 2


def test_a_strict_recipient_is_left_out_and_shown_with_everything_ticked() -> None:
    data = form_data(EVERY_FIELD)
    data["bureau-strict"] = ["1"]
    form, errors = fields_from_form(data)
    assert errors == {}
    document = document_from_form(form)
    assert list(document["recipients"]) == ["supplier"]
    policy = load_policy(policy_text(document))
    shown = form_from_document(policy.document).recipient("bureau")
    assert shown.strict and shown.redact == entity_types(["PART_NUMBER", "ORDER_REF"])
    assert shown == form.recipient("bureau")


def test_new_patterns_are_redacted_for_everyone_until_unticked() -> None:
    data = form_data(EVERY_FIELD)
    data["pattern_name"].append("LOT")
    data["pattern_regex"].append(r"LOT-\d+")
    form, _ = fields_from_form(data)
    assert "LOT" in form.recipient("bureau").redact and "LOT" in form.recipient("supplier").redact
    # Once the form has shown it (known_patterns), an untick sticks.
    data["known_patterns"].append("LOT")
    form, _ = fields_from_form(data)
    assert "LOT" not in form.recipient("bureau").redact
    # A removed pattern takes its ticks with it; the loader would refuse them otherwise.
    data = form_data(EVERY_FIELD)
    data["pattern_name"], data["pattern_regex"] = ["PART_NUMBER"], [r"KD-\d{4}-[A-Z]{2}"]
    form, errors = fields_from_form(data)
    assert errors == {} and "ORDER_REF" not in form.recipient("supplier").redact
    load_policy(policy_text(document_from_form(form)))


def test_form_errors_name_their_row_and_keep_what_was_typed() -> None:
    data = form_data(EVERY_FIELD)
    data["pattern_name"] = ["PART_NUMBER", "", "part", "PART_NUMBER"]
    data["pattern_regex"] = ["a", "b", "c", "d"]
    data["bureau-thresholds"] = ["default=0.5, PERSON"]
    data["supplier-thresholds"] = ["default=lots"]
    form, errors = fields_from_form(data)
    assert errors["pattern-1"] == "give the pattern a name, e.g. PART_NUMBER"
    assert errors["pattern-2"].startswith("invalid name 'part'")
    assert errors["pattern-3"] == "the name PART_NUMBER is used by another pattern"
    assert "TYPE=0.5" in errors["bureau-thresholds"] and "'PERSON'" in errors["bureau-thresholds"]
    assert "'default=lots'" in errors["supplier-thresholds"]
    assert [source for _, source in form.patterns] == ["a", "b", "c", "d"], "shown again as typed"
    assert "pattern-0" not in errors
    data = form_data(EVERY_FIELD)
    data["customers"] = ["\n".join(f"Customer {n}" for n in range(5001))]
    assert "too many lines" in fields_from_form(data)[1]["customers"]


@pytest.mark.parametrize(
    ("change", "field_id", "words"),
    [
        (lambda d: d.update(name=[""]), "name", "must not be empty"),
        (lambda d: d.update(customers=["Kestrel Dynamics GmbH\nx"]), "customers", "too short"),
        (lambda d: d.update(trade_secrets=["-"]), "trade_secrets", "too short"),
        (lambda d: d.update(pattern_regex=["a", r"(\d)\1"]), "pattern-1", "backreferences"),
        (lambda d: d.update(pattern_regex=["a*", "b"]), "pattern-0", "empty string"),
        (lambda d: d.update(pattern_name=["PART_NUMBER", "PERSON"]), "pattern-1", "built-in entity type"),
        (lambda d: d.update({"bureau-keep": ["Nobody Ltd"]}), "bureau-keep", "matches no declared"),
        (lambda d: d.update({"supplier-style": ["blur"]}), "supplier-style", "blur"),
        (lambda d: d.update({"bureau-images": ["hide"]}), "bureau-images", "hide"),
        (lambda d: d.update({"bureau-thresholds": ["PERSONS=0.5"]}), "bureau-thresholds", "PERSONS"),
        (lambda d: d.update({"bureau-thresholds": ["default=2"]}), "bureau-thresholds", "greater than"),
    ],
)
def test_loader_errors_land_next_to_their_field(change: object, field_id: str, words: str) -> None:
    data = form_data(EVERY_FIELD)
    change(data)  # type: ignore[operator]
    form, errors = fields_from_form(data)
    assert errors == {}
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_text(document_from_form(form)))
    assert error_field(caught.value, form) == field_id
    shown = error_text(caught.value)
    assert words in shown and "(line" not in shown and not shown.startswith(("terms.", "recipients."))


def test_error_field_falls_back_to_the_whole_form() -> None:
    assert error_field(PolicyError("the policy is nested too deeply"), EVERY_FIELD) == "policy"
    assert error_field(PolicyError("x", field="recipients.carrier"), EVERY_FIELD) == "policy"
    assert error_field(PolicyError("x", field="terms.patterns"), EVERY_FIELD) == "patterns"
    assert error_field(PolicyError("x", field="matching.short_names"), EVERY_FIELD) == "short_names"


def test_the_form_lists_exactly_the_types_the_detector_knows() -> None:
    assert len(BUILT_IN_TYPES) == len(set(BUILT_IN_TYPES))
    assert set(BUILT_IN_TYPES) == PRESIDIO_ENTITY_TYPES | DECLARED_ENTITY_TYPES
    types = entity_types(["PART_NUMBER", "", "PART_NUMBER", "PERSON"])
    assert types[:3] == ("CUSTOMER", "TRADE_SECRET", "PART_NUMBER") and types.count("PERSON") == 1


# --- the live pattern test ---------------------------------------------------------------


def test_pattern_test_matches_what_the_detector_finds() -> None:
    text = "KD-4471-ZX 🧲 KD-1234-AB, kd-0000-aa\n宁波 KD-9999-QQ"
    pattern = r"KD-\d{4}-[A-Z]{2}"
    spans, truncated = pattern_matches(pattern, text)
    detector = [(h.start, h.end) for h in PatternMatcher({"P": pattern}).find(text)]
    assert spans == detector and not truncated
    # Offsets are code points, as Python and the detector count them (the magnet emoji is one).
    assert [text[s:e] for s, e in spans] == ["KD-4471-ZX", "KD-1234-AB", "KD-9999-QQ"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "empty"),
        (r"(a)\1", "backreferences are not supported"),
        (r"a(?=b)", "lookahead/lookbehind"),
        (r"x?", "matches the empty string"),
        ("x" * 501, "longer than 500"),
    ],
)
def test_pattern_test_refuses_what_detection_refuses(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        pattern_matches(pattern, "text")


def test_pattern_test_is_linear_and_bounded() -> None:
    started = time.monotonic()
    spans, _ = pattern_matches(r"(a|aa)+$|(a+)+b", "a" * 19_999 + "!")
    assert time.monotonic() - started < 1 and spans == []
    spans, truncated = pattern_matches("a", "a" * 20_000)
    assert truncated and len(spans) == 1000
    with pytest.raises(ValueError, match="longer than 20000"):
        pattern_matches("a", "a" * 20_001)
