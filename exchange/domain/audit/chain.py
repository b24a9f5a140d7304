"""Hash-chain maths for the tamper-evident access log.

Each event's hash commits to the previous event's hash and to the event's
canonical JSON payload, so changing, removing or reordering any stored event
breaks every hash after it. Chains are per case (the applicant reads and
verifies its own case's chain) plus one ``system`` chain.

Threat assumption: an attacker with write access to the database can rewrite
the whole chain consistently; detecting that needs an external anchor (a
published checkpoint), which is a later capability. What this gives today is
detection of edits to single events and gaps in the sequence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def event_hash(prev_hash: str, payload: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(payload))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    seq: int
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    ok: bool
    length: int
    #: sequence number of the first event that does not verify, if any
    broken_at: int | None = None
    reason: str = ""


def verify_chain(events: Iterable[ChainedEvent]) -> ChainVerdict:
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            return ChainVerdict(False, count, event.seq, f"sequence gap: expected {expected_seq}")
        if event.prev_hash != expected_prev:
            return ChainVerdict(False, count, event.seq, "previous-hash link does not match")
        if event_hash(event.prev_hash, event.payload) != event.hash:
            return ChainVerdict(False, count, event.seq, "event content does not match its hash")
        expected_prev = event.hash
        expected_seq += 1
    return ChainVerdict(True, count)
