"""E-mail addresses are found whole, whatever their top-level domain."""

from __future__ import annotations

import pytest
import regex

from exchange.domain.detection.detector import Detector
from exchange.domain.detection.engine import EMAIL_PATTERN

EMAIL = regex.compile(EMAIL_PATTERN, regex.IGNORECASE)


@pytest.mark.parametrize(
    "address",
    [
        "j.wang@kestrel.local",
        "ops+nd@plant.corp",
        "a.b@db.internal",
        "it@office.lan",
        "x@mail.example.test",
        "sales@kestrel.example",
        "li_na@shop.rareearth.photography",
        "user@xn--80ak6aa92e.xn--p1ai",
        "émile@société.fr",
        "jane.doe@example.com",
    ],
)
def test_whole_address_matched(address: str) -> None:
    for text in (f"Mail {address}.", f"联系{address}，谢谢", f"<{address}>"):
        assert [m.group() for m in EMAIL.finditer(text)] == [address], text


@pytest.mark.parametrize("text", ["foo@bar", "a@b.c", "user@", "@kestrel.local", "1.5@2.0"])
def test_not_addresses(text: str) -> None:
    assert EMAIL.search(text) is None


def test_pattern_stays_linear_on_hostile_text() -> None:
    import time

    start = time.perf_counter()
    for text in ("a." * 50_000 + "@", "a@" * 50_000, "a-" * 30_000 + "@b", "a@" + "b." * 50_000):
        EMAIL.findall(text)
    assert time.perf_counter() - start < 2.0


def test_detector_redacts_the_local_part_with_the_domain(detector: Detector) -> None:
    text = "Please write to j.wang@kestrel.local or ops@plant.corp before Friday."
    emails = [f for f in detector.scan(text) if f.entity_type == "EMAIL_ADDRESS"]
    assert sorted(f.text for f in emails) == ["j.wang@kestrel.local", "ops@plant.corp"]
    for finding in detector.scan(text):
        if "kestrel.local" in finding.text:
            assert finding.text.startswith("j.wang@")
