"""Detector: findings, decisions per recipient, outputs; recall on the corpus."""

from __future__ import annotations

import itertools

import pytest

from exchange.domain.detection import (
    PRESIDIO_ENTITY_TYPES,
    Labeller,
    Policy,
    finding_to_dict,
    fold,
    load_policy,
    redactions_for,
    sensitive_values,
)
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.findings import Finding
from exchange.domain.errors import PolicyError

TEXT = (
    "Dear John Smith,\n"
    "KESTREL DYNAMICS ordered part KD-1234-AB via Oakridge Acoustics Ltd. Kes-\n"
    "trel Dynamics GmbH's plant uses grain boundary\ndiffusion for N52SH\u2013X.\n"
    "Contact jane.doe@example.com or +44 20 7946 0958. Mueller Magnet signed.\n"
    "Kestrelwood and Dynamics are decoys.\n"
)


@pytest.fixture(scope="module")
def findings(detector: Detector) -> list[Finding]:
    return detector.scan(TEXT)


def by_text(findings: list[Finding], text: str, etype: str | None = None) -> Finding:
    matches = [f for f in findings if f.text == text and (etype is None or f.entity_type == etype)]
    assert matches, f"no finding {text!r} in {[f.text for f in findings]}"
    return matches[0]


def test_offsets_index_the_scanned_text(findings: list[Finding]) -> None:
    assert findings
    for f in findings:
        assert TEXT[f.start : f.end] == f.text
        assert set(f.decisions) == {"bureau", "supplier"}


def test_declared_terms_are_found_in_variant_forms(findings: list[Finding]) -> None:
    for text in ["KESTREL DYNAMICS", "Kes-\ntrel Dynamics GmbH", "Mueller Magnet", "Oakridge Acoustics Ltd."]:
        f = by_text(findings, text, "CUSTOMER")
        assert f.score == 1.0
        assert f.recognizer == "DeclaredTermRecognizer"
        assert f.term is not None
        assert "declared customer" in f.explanation
    assert by_text(findings, "grain boundary\ndiffusion", "TRADE_SECRET").term == "grain boundary diffusion"
    assert by_text(findings, "N52SH\u2013X", "TRADE_SECRET").term == "N52SH-X"
    part = by_text(findings, "KD-1234-AB", "PART_NUMBER")
    assert "PART_NUMBER" in part.explanation


def test_no_findings_on_decoys(findings: list[Finding]) -> None:
    decoy_line = TEXT.index("Kestrelwood")
    assert not [
        f for f in findings if f.start >= decoy_line and f.entity_type in {"CUSTOMER", "TRADE_SECRET"}
    ]


def test_decisions_per_recipient_and_keep(findings: list[Finding]) -> None:
    kestrel = by_text(findings, "KESTREL DYNAMICS", "CUSTOMER")
    assert kestrel.decisions["bureau"].action == "redact"
    assert "Kestrel Dynamics GmbH" in kestrel.decisions["bureau"].reason
    oak = by_text(findings, "Oakridge Acoustics Ltd.", "CUSTOMER")
    assert oak.decisions["bureau"].action == "keep"
    assert "keep term" in oak.decisions["bureau"].reason
    assert oak.decisions["supplier"].action == "redact"
    person = by_text(findings, "John Smith", "PERSON")
    assert person.decisions["bureau"].action == "keep"
    assert "not in bureau's redact list" in person.decisions["bureau"].reason
    assert person.decisions["supplier"].action == "redact"
    email = by_text(findings, "jane.doe@example.com", "EMAIL_ADDRESS")
    assert email.decisions["supplier"].action == "redact"


def test_thresholds(findings: list[Finding]) -> None:
    phone = by_text(findings, "+44 20 7946 0958", "PHONE_NUMBER")
    assert phone.score < 0.5  # no context word: Presidio scores 0.4
    assert phone.decisions["supplier"].action == "keep"
    assert "below supplier's threshold 0.50" in phone.decisions["supplier"].reason


def test_ner_does_not_duplicate_declared_terms(findings: list[Finding]) -> None:
    declared = [(f.start, f.end) for f in findings if f.recognizer != "SpacyRecognizer"]
    for f in findings:
        if f.recognizer == "SpacyRecognizer" and f.entity_type in {"ORGANIZATION", "PERSON"}:
            assert not any(f.start < e and s < f.end for s, e in declared), f


def test_undeclared_organisation_is_a_suggestion(detector: Detector) -> None:
    [text] = ["The contract with Siemens AG and the Deutsche Bank was signed in Munich."]
    orgs = [f for f in detector.scan(text) if f.entity_type == "ORGANIZATION"]
    assert orgs, "spaCy should find at least one organisation here"
    for f in orgs:
        assert f.suggestion
        assert f.score < 0.5
        assert f.decisions["supplier"].action == "keep"
        assert "suggestion" in f.decisions["supplier"].reason


def test_scan_many_equals_scan(detector: Detector) -> None:
    texts = [TEXT, "", "nothing here", "Kestrel Dynamics\n" * 3]
    batched = detector.scan_many(texts)
    assert batched == [detector.scan(t) for t in texts]
    assert batched[1] == []


def test_long_text_is_chunked_with_correct_offsets(detector: Detector) -> None:
    filler = "Sintered magnets are inspected before dispatch. " * 600  # ~29k chars > one chunk
    text = filler + "Kestrel Dynamics GmbH and jane@example.com\n" + filler + "N52SH-X"
    found = detector.scan(text)
    for f in found:
        assert text[f.start : f.end] == f.text
    assert {"Kestrel Dynamics GmbH", "N52SH-X"} <= {f.text for f in found}


def test_redactions_for_box_and_label(findings: list[Finding], policy: Policy) -> None:
    bureau = redactions_for(findings, "bureau", policy)
    assert all(r.replacement is None for r in bureau)
    kept = TEXT.index("Oakridge")
    assert not any(r.start <= kept < r.end for r in bureau)
    labeller = Labeller()
    supplier = redactions_for(findings, "supplier", policy, labeller)
    labels = {TEXT[r.start : r.end]: r.replacement for r in supplier}
    assert labels["KESTREL DYNAMICS"] == labels["Kes-\ntrel Dynamics GmbH"] == "[CUSTOMER-1]"
    assert labels["Oakridge Acoustics Ltd."] == "[CUSTOMER-2]"
    # merged, sorted, non-overlapping
    assert all(a.end < b.start for a, b in itertools.pairwise(supplier))
    with pytest.raises(PolicyError, match="unknown recipient"):
        redactions_for(findings, "press", policy)


def test_sensitive_values(findings: list[Finding], policy: Policy) -> None:
    bureau = {fold(v) for v in sensitive_values(findings, "bureau", policy)}
    assert fold("Kestrel Dynamics GmbH") in bureau
    assert fold("Kestrel Dynamics") in bureau  # suffix-free base name
    assert fold("Mueller Magnet AG") in bureau  # transliteration of the declared Müller
    assert fold("Shenzhen Rare Earth Co., Ltd.") in bureau  # declared, though not in this text
    assert fold("KD-1234-AB") in bureau
    assert not any("oakridge" in v for v in bureau)
    supplier = {fold(v) for v in sensitive_values(findings, "supplier", policy)}
    assert fold("Oakridge Acoustics Ltd") in supplier
    assert fold("John Smith") in supplier


def test_finding_to_dict(findings: list[Finding]) -> None:
    f = by_text(findings, "KESTREL DYNAMICS", "CUSTOMER")
    one = finding_to_dict(f, "bureau")
    assert {"entity_type", "start", "end", "text", "score", "recognizer", "decision"} <= set(one)
    assert one["decision"] == "redact"
    both = finding_to_dict(f)
    assert both["decision"] == {"bureau": "redact", "supplier": "redact"}


def test_presidio_types_match_engine(engine) -> None:  # type: ignore[no-untyped-def]
    assert engine.supported_entities() >= PRESIDIO_ENTITY_TYPES


def test_second_detector_is_cheap(policy_text: str, engine) -> None:  # type: ignore[no-untyped-def]
    import time

    started = time.perf_counter()
    Detector(load_policy(policy_text.replace("N52SH-X", "N48H")), engine=engine)
    assert time.perf_counter() - started < 1.0


def test_corpus_recall_is_total_and_decoys_silent(engine) -> None:  # type: ignore[no-untyped-def]
    from tests.corpus.detection_corpus import generate, policy_yaml

    docs = generate(n_docs=30, seed=7, with_pii=False)
    detector = Detector(load_policy(policy_yaml()), engine=engine)
    declared = {"CUSTOMER", "TRADE_SECRET", "PART_NUMBER"}
    for doc, found in zip(docs, detector.scan_many([d.text for d in docs]), strict=True):
        for label in doc.labels:
            assert any(
                f.entity_type == label.entity_type and f.start <= label.start and f.end >= label.end
                for f in found
            ), (label, doc.text[label.start : label.end])
        for start, end in doc.decoys:
            hits = [f for f in found if f.entity_type in declared and f.start < end and start < f.end]
            assert not hits, (doc.text[start:end], hits)


def test_context_words_raise_presidio_scores(detector: object) -> None:
    from exchange.domain.detection import load_policy
    from exchange.domain.detection.detector import Detector

    policy = load_policy(
        'version: 1\nname: ctx\nterms: {customers: ["Kestrel Dynamics GmbH"]}\n'
        "recipients:\n  supplier: {redact: [PHONE_NUMBER], thresholds: {PHONE_NUMBER: 0.5}}\n"
    )
    found = Detector(policy).scan("Our office phone is +49 711 555 0199. Reference 212-555-0199 elsewhere.")
    scores = {f.text: f.score for f in found if f.entity_type == "PHONE_NUMBER"}
    assert scores["+49 711 555 0199"] > scores["212-555-0199"]
    near = next(f for f in found if f.text == "+49 711 555 0199")
    assert "phone" in near.explanation
    assert near.decisions["supplier"].action == "redact"
