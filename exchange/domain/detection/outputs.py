"""What detection hands to engines, verifiers and user interfaces.

* :func:`redactions_for` — the merged spans one recipient must not see, with a
  label when the recipient's style is "label".
* :func:`sensitive_values` — every value that must not appear in one
  recipient's output, for the verifiers (they ``fold`` and search). It is
  deliberately broader than the findings: it includes every declared term of
  a redacted type, its suffix-free base name and its umlaut transliteration,
  so a verifier catches a mention that detection missed.
* :func:`finding_to_dict` — the JSON form (CLI, API, web page).

Invariant: a decision is taken in one place (:func:`.detector.decide`); these
functions only read it, recomputing it from the given policy when a finding
was scanned without that recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchange.domain.detection.detector import compile_policy, decide
from exchange.domain.detection.findings import Decision, Finding, Redaction, merge_redactions
from exchange.domain.detection.labels import Labeller
from exchange.domain.detection.normalise import expand_umlauts, fold
from exchange.domain.detection.policy import Policy
from exchange.domain.detection.terms import CUSTOMER, TRADE_SECRET, base_name


def _decision(finding: Finding, recipient: str, policy: Policy) -> Decision:
    existing = finding.decision_for(recipient)
    if existing is not None:
        return existing
    rpolicy = policy.recipient(recipient)
    return decide(finding, rpolicy, compile_policy(policy).keep.get(recipient))


def redactions_for(
    findings: Sequence[Finding], recipient: str, policy: Policy, labeller: Labeller | None = None
) -> list[Redaction]:
    """Merged spans to remove for ``recipient``; ``replacement`` is a label or None (box)."""
    rpolicy = policy.recipient(recipient)
    if rpolicy.style == "label" and labeller is None:
        labeller = Labeller()
    spans: list[Redaction] = []
    for finding in findings:
        if _decision(finding, recipient, policy).action != "redact":
            continue
        replacement = None
        if rpolicy.style == "label" and labeller is not None:
            replacement = labeller.label(finding.entity_type, finding.term or finding.text)
        spans.append(Redaction(finding.start, finding.end, finding.entity_type, replacement))
    return merge_redactions(spans)


def sensitive_values(findings: Sequence[Finding], recipient: str, policy: Policy) -> list[str]:
    """Values that must not appear in ``recipient``'s output (see module docstring)."""
    rpolicy = policy.recipient(recipient)
    keep_rule = compile_policy(policy).keep.get(recipient)
    kept_terms = keep_rule.terms if keep_rule is not None else frozenset()
    kept_folds = {fold(k) for k in rpolicy.keep}
    values: list[str] = []
    for finding in findings:
        if _decision(finding, recipient, policy).action == "redact":
            values.append(finding.text)
    declared: list[str] = []
    if CUSTOMER in rpolicy.redact:
        declared.extend(policy.customers)
    if TRADE_SECRET in rpolicy.redact:
        declared.extend(policy.trade_secrets)
    for term in declared:
        if term in kept_terms:
            continue
        values.append(term)
        # CJK names too: 宁波瀚海磁电 for 宁波瀚海磁电有限公司 (see terms.base_name).
        base = base_name(term)
        if base:
            values.append(base)
        expanded = expand_umlauts(term)
        if expanded != term:
            values.append(expanded)
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        key = fold(value)
        if key and key not in seen and key not in kept_folds:
            seen.add(key)
            out.append(value)
    return out


def finding_to_dict(f: Finding, recipient: str | None = None) -> dict[str, Any]:
    """JSON form of a finding.

    ``decision`` is ``"redact"``/``"keep"`` for the given recipient, or without
    one an object ``{recipient: "redact"|"keep"}``; ``reason`` mirrors it with
    the decision's reason(s).
    """
    out: dict[str, Any] = {
        "entity_type": f.entity_type,
        "start": f.start,
        "end": f.end,
        "text": f.text,
        "score": f.score,
        "recognizer": f.recognizer,
        "explanation": f.explanation,
        "suggestion": f.suggestion,
    }
    if f.term is not None:
        out["term"] = f.term
    if recipient is not None:
        decision = f.decision_for(recipient)
        out["decision"] = decision.action if decision else None
        out["reason"] = decision.reason if decision else None
    else:
        out["decision"] = {name: d.action for name, d in f.decisions.items()}
        out["reason"] = {name: d.reason for name, d in f.decisions.items()}
    return out
