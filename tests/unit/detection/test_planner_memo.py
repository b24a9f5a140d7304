"""The planner's memo: every text scanned once, in bounded batches; only texts with findings kept."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from exchange.domain.detection import Policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.findings import Finding
from exchange.domain.detection.planner import RecipientPlanner


class CountingDetector(Detector):
    """The real detector, noting which texts it was asked to scan (``scan`` goes through ``scan_many``)."""

    def __init__(self, policy: Policy, engine: object) -> None:
        super().__init__(policy, engine=engine)  # type: ignore[arg-type]
        self.batches: list[int] = []
        self.scanned: list[str] = []

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        self.batches.append(len(texts))
        self.scanned.extend(texts)
        return super().scan_many(texts)


@pytest.fixture
def counting(policy: Policy, engine: object) -> CountingDetector:
    return CountingDetector(policy, engine)


def _texts(n: int) -> list[str]:
    # A workbook's shape: many distinct texts without findings, a few naming the customer, repeats.
    out = [f"rotor housing, lot {i}" for i in range(n)]
    out[7] = "Invoice for Kestrel Dynamics GmbH"
    out[n - 3] = "Part KD-4471-ZX for Oakridge Acoustics Ltd"
    return out + out[:50]


def _with_findings(detector: Detector, texts: list[str]) -> list[str]:
    """What the plain detector finds something in (the NER model decides some of it)."""
    found = [t for t in dict.fromkeys(texts) if detector.scan(t)]
    assert texts[7] in found and texts[-53] in found and len(found) < len(texts) // 2
    return found


def test_scan_reads_every_text_once_in_bounded_batches(
    policy: Policy, detector: Detector, counting: CountingDetector
) -> None:
    planner = RecipientPlanner(counting, policy)
    planner.SCAN_BATCH = 64
    texts = _texts(300)
    planner.scan(texts, [(1, "text")] * len(texts))
    assert sorted(counting.scanned) == sorted(set(texts))
    assert counting.batches and max(counting.batches) <= 64

    # Asked again, by a scan or by a plan, nothing is scanned twice: with or without findings.
    planner.scan(texts)
    plan = planner.plan("supplier")
    answers = [plan.find(t) for t in texts]
    assert len(counting.scanned) == len(set(texts))
    found = _with_findings(detector, texts)
    assert [bool(a) for a in answers] == [t in found for t in texts]
    clean = next(t for t in texts if t not in found)
    assert planner.findings(clean) == []
    assert len(counting.scanned) == len(set(texts))


def test_memo_keeps_texts_with_findings_and_where_they_were_read(
    policy: Policy, detector: Detector, counting: CountingDetector
) -> None:
    planner = RecipientPlanner(counting, policy)
    texts = _texts(300)
    planner.scan(texts, [(i // 100 + 1, "text") for i in range(len(texts))])
    memo = planner.memo()
    assert [text for text, _found, _where in memo] == _with_findings(detector, texts)
    customer = next(entry for entry in memo if entry[0] == texts[7])
    # Read twice (the repeats at the end sit on page 4): both places are kept.
    assert customer[2] == [(1, "text"), (4, "text")]
    assert {f.entity_type for f in customer[1]} == {"CUSTOMER"}
    pages = [(page, f.entity_type) for page, _source, f in planner.located_findings()]
    assert (3, "PART_NUMBER") in pages and (1, "CUSTOMER") in pages


def test_adopted_memo_answers_as_the_planner_that_scanned(policy: Policy, counting: CountingDetector) -> None:
    scanned = RecipientPlanner(counting, policy)
    texts = _texts(300)
    scanned.scan(texts, [(1, "text")] * len(texts))
    scanned.findings("Kestrel Dynamics GmbH again, met while redacting")

    counting.scanned.clear()
    adopted = RecipientPlanner(counting, policy)
    adopted.adopt(scanned.memo())
    assert adopted.located_findings() == scanned.located_findings()
    for recipient in ("supplier", "bureau"):
        mine, theirs = adopted.plan(recipient), scanned.plan(recipient)
        assert mine.sensitive_values == theirs.sensitive_values and mine.sensitive_values
        assert mine.find(texts[7]) == theirs.find(texts[7]) and mine.find(texts[7])
    # Texts with findings came with the memo; nothing was scanned to answer about them.
    assert counting.scanned == []
    # A text without findings did not come: asked about, it is scanned (never assumed clean).
    assert adopted.findings("rotor housing, lot 9999") == []
    assert counting.scanned == ["rotor housing, lot 9999"]
