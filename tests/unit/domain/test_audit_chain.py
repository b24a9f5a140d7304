from __future__ import annotations

from dataclasses import replace

from exchange.domain.audit.chain import GENESIS, ChainedEvent, event_hash, verify_chain


def make_chain(n: int) -> list[ChainedEvent]:
    events, prev = [], GENESIS
    for seq in range(1, n + 1):
        payload = {"seq": seq, "action": "bundle.download", "actor": f"user{seq}@example.test"}
        digest = event_hash(prev, payload)
        events.append(ChainedEvent(seq, payload, prev, digest))
        prev = digest
    return events


def test_intact_chain_verifies() -> None:
    verdict = verify_chain(make_chain(5))
    assert verdict.ok and verdict.length == 5


def test_edited_event_is_detected() -> None:
    events = make_chain(5)
    events[2] = replace(events[2], payload={**events[2].payload, "actor": "someone-else@example.test"})
    verdict = verify_chain(events)
    assert not verdict.ok and verdict.broken_at == 3 and "content" in verdict.reason


def test_removed_event_is_detected() -> None:
    events = make_chain(5)
    del events[1]
    verdict = verify_chain(events)
    assert not verdict.ok and verdict.broken_at == 3


def test_hash_depends_on_previous_hash() -> None:
    assert event_hash(GENESIS, {"a": 1}) != event_hash("1" * 64, {"a": 1})
    assert event_hash(GENESIS, {"a": 1, "b": 2}) == event_hash(GENESIS, {"b": 2, "a": 1})
