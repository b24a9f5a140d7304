"""Fixtures for detection tests: one engine and one Detector per session."""

from __future__ import annotations

import pytest

from exchange.domain.detection import Policy, load_policy

POLICY_YAML = """\
version: 1
name: NdFeB magnets, application 41
terms:
  customers:
    ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd", "Müller Magnet AG", "Shenzhen Rare Earth Co., Ltd."]
  trade_secrets: ["grain boundary diffusion", "N52SH-X"]
  patterns: {PART_NUMBER: 'KD-\\d{4}-[A-Z]{2}'}
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER]
    keep: ["Oakridge Acoustics Ltd"]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER, PERSON, EMAIL_ADDRESS, PHONE_NUMBER]
    style: label
    thresholds: {PHONE_NUMBER: 0.5}
"""


@pytest.fixture(scope="session")
def policy_text() -> str:
    return POLICY_YAML


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(POLICY_YAML)


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    from exchange.domain.detection.engine import shared_engine

    return shared_engine()


@pytest.fixture(scope="session")
def detector(policy: Policy, engine):  # type: ignore[no-untyped-def]
    from exchange.domain.detection.detector import Detector

    return Detector(policy, engine=engine)
