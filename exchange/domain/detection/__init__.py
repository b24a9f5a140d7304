"""Detection: the policy model, declared-term and pattern matching, NER, findings.

Public API (used by the web app, the worker and the PDF engine)::

    load_policy(text, allowed_recipients=("bureau", "supplier")) -> Policy
    policy_schema() -> dict
    import_customers(data, filename, column=None) -> list[str]
    Detector(policy).scan(text) / .scan_many(texts)
    Labeller(state).label(entity_type, text) / .state()
    redactions_for(findings, recipient, policy, labeller=None) -> list[Redaction]
    sensitive_values(findings, recipient, policy) -> list[str]
    finding_to_dict(finding, recipient=None) -> dict

The module is pure domain code: no web, queue or database imports; the spaCy
model and Presidio are imported lazily when the first Detector is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.domain.detection.customer_import import import_customers
from exchange.domain.detection.findings import Decision, Finding, Redaction, merge_redactions
from exchange.domain.detection.labels import Labeller
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.policy import (
    DEFAULT_RECIPIENTS,
    PRESIDIO_ENTITY_TYPES,
    Policy,
    RecipientPolicy,
    load_policy,
    policy_schema,
)

if TYPE_CHECKING:
    from exchange.domain.detection.detector import Detector
    from exchange.domain.detection.outputs import finding_to_dict, redactions_for, sensitive_values

__all__ = [
    "DEFAULT_RECIPIENTS",
    "PRESIDIO_ENTITY_TYPES",
    "Decision",
    "Detector",
    "Finding",
    "Labeller",
    "Policy",
    "RecipientPolicy",
    "Redaction",
    "finding_to_dict",
    "fold",
    "import_customers",
    "load_policy",
    "merge_redactions",
    "policy_schema",
    "redactions_for",
    "sensitive_values",
]

_LAZY = {
    "Detector": "exchange.domain.detection.detector",
    "finding_to_dict": "exchange.domain.detection.outputs",
    "redactions_for": "exchange.domain.detection.outputs",
    "sensitive_values": "exchange.domain.detection.outputs",
}


def __getattr__(name: str) -> Any:
    # Detector pulls in Presidio (seconds to import); the web app only needs
    # load_policy and friends, so those heavy names load on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib  # noqa: PLC0415  (only the lazy path needs it)

    return getattr(importlib.import_module(module), name)
