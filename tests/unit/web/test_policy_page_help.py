"""The policy page's help and choices stay in step with the detector and the policy format."""

from __future__ import annotations

from exchange.domain.detection.policy import policy_schema
from exchange.domain.detection.policy_form import BUILT_IN_TYPES, DEFAULTS, IMAGES, MODES, STYLES, VIDEOS
from exchange.web import policy_pages


def test_every_entity_type_has_a_one_line_description() -> None:
    assert list(policy_pages.ENTITY_HELP) == list(BUILT_IN_TYPES)
    for etype, text in policy_pages.ENTITY_HELP.items():
        line = str(text)
        assert line and "\n" not in line and len(line) < 160, etype


def test_the_choices_are_the_schema_enums() -> None:
    schema = policy_schema()["$defs"]["recipient"]["properties"]
    chosen = {k: tuple(v for v, _ in c) for k, c in policy_pages.CHOICES.items()}
    assert chosen == {"style": STYLES, "mode": MODES, "images": IMAGES, "videos": VIDEOS}
    for key, values in chosen.items():
        assert set(values) == set(schema[key]["enum"]), key
        assert DEFAULTS[key] in values


def test_the_example_on_the_page_is_a_valid_policy() -> None:
    from exchange.domain.detection import load_policy

    policy = load_policy(policy_pages.EXAMPLE_POLICY)
    assert policy.recipients["supplier"].style == "label" and "宁波瀚海磁电有限公司" in policy.customers
