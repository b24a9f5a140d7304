from __future__ import annotations

import json

import pytest

from exchange.domain.detection import Labeller
from exchange.domain.errors import InvalidInput


def test_same_value_same_label_across_variants() -> None:
    labeller = Labeller()
    first = labeller.label("CUSTOMER", "Kestrel Dynamics GmbH")
    assert first == "[CUSTOMER-1]"
    for variant in ["KESTREL DYNAMICS", "Kes-\ntrel Dynamics's", "kestrel-dynamics AG"]:
        assert labeller.label("CUSTOMER", variant) == first
    assert labeller.label("CUSTOMER", "Oakridge Acoustics Ltd") == "[CUSTOMER-2]"
    assert labeller.label("CUSTOMER", "Müller Magnet") == labeller.label("CUSTOMER", "Mueller Magnet AG")
    assert labeller.label("PERSON", "Kestrel Dynamics") == "[PERSON-1]"


def test_state_round_trip_keeps_labels_and_holds_no_plaintext() -> None:
    labeller = Labeller()
    labeller.label("CUSTOMER", "Kestrel Dynamics GmbH")
    labeller.label("CUSTOMER", "Oakridge Acoustics Ltd")
    state = json.loads(json.dumps(labeller.state()))
    assert "kestrel" not in json.dumps(state).lower()
    again = Labeller(state)
    assert again.label("CUSTOMER", "Oakridge Acoustics") == "[CUSTOMER-2]"
    assert again.label("CUSTOMER", "Falcon Systems") == "[CUSTOMER-3]"


def test_two_cases_are_independent() -> None:
    a, b = Labeller(), Labeller()
    a.label("CUSTOMER", "X Corp One")
    assert b.label("CUSTOMER", "Y Corp Two") == "[CUSTOMER-1]"
    assert a.state()["salt"] != b.state()["salt"]


def test_malformed_state() -> None:
    with pytest.raises(InvalidInput):
        Labeller({"v": 1, "salt": "x"})
    with pytest.raises(InvalidInput):
        Labeller({"v": 99, "salt": "x", "next": {}, "labels": {}})
