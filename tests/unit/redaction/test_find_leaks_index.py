"""find_leaks answers the same with its 4-gram index (large inputs) as with plain scans."""

from __future__ import annotations

import random

import pytest

from exchange.domain.redaction import text as text_module
from exchange.domain.redaction.text import find_leaks


def _corpus(seed: int) -> tuple[str, list[str]]:
    rnd = random.Random(seed)
    words = ["Kestrel", "Dynamics", "GmbH", "ops", "K e s t r e l", "宁波瀚海磁电", "Müller", "a-b", "x"]
    text = " ".join(rnd.choice(words) + str(rnd.randint(0, 50)) for _ in range(3000))
    values = [rnd.choice(words) + str(rnd.randint(0, 80)) for _ in range(400)]
    values += ["Kestrel", "kestrel dynamics", "MULLER", "宁波 瀚海", "ab", "", "zzzz never"]
    return text, values


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_and_scan_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text, values = _corpus(seed)
    monkeypatch.setattr(text_module, "_INDEX_ABOVE", 10**12)
    plain = find_leaks(text, values)
    monkeypatch.setattr(text_module, "_INDEX_ABOVE", 0)
    indexed = find_leaks(text, values)
    assert indexed == plain
    assert plain
