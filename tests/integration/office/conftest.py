"""Session-wide Office corpus, detector and helpers; outputs are checked with independent tools."""

from __future__ import annotations

import io
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.office.package import OfficeEngine
from tests.corpus import office as corpus

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(corpus.POLICY)


@pytest.fixture(scope="session")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture(scope="session")
def office_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("office_corpus")


@pytest.fixture(scope="session")
def libreoffice_files(office_dir: Path) -> dict[str, Path]:
    return corpus.make_libreoffice(office_dir / "lo")


def redact(
    engine: OfficeEngine, path: Path, detector: Detector, policy: Policy, recipients: tuple[str, ...]
) -> dict[str, RedactionResult]:
    document = engine.read(path, LIMITS)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return {r: engine.redact(document, planner.plan(r)) for r in recipients}


def raw_parts(data: bytes) -> Iterator[tuple[str, str]]:
    """Every part of a ZIP as text, read without any OOXML knowledge (UTF-8 and UTF-16 views)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            raw = archive.read(info)
            yield info.filename, raw.decode("utf-8", "ignore") + raw.decode("utf-16-le", "ignore")


def assert_no_customer(data: bytes) -> None:
    needle = "kestrel"
    hits = [name for name, text in raw_parts(data) if needle in text.casefold() or needle in name.casefold()]
    assert hits == [], hits


def soffice_text(path: Path, target: str = "txt:Text (encoded):UTF8") -> str:
    """Text of ``path`` as LibreOffice reads it (txt for Writer, PDF then pdftotext otherwise)."""
    out = path.parent / f"lo-{path.stem}"
    (converted,) = corpus.soffice_convert([path], target, out)
    if converted.suffix == ".pdf":
        return subprocess.run(
            ["pdftotext", "-layout", str(converted), "-"], capture_output=True, check=True, timeout=60
        ).stdout.decode()
    return converted.read_text(encoding="utf-8", errors="replace")


def tesseract(data: bytes, directory: Path, name: str) -> str:
    path = directory / name
    path.write_bytes(data)
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng"], capture_output=True, check=True, timeout=120
    ).stdout.decode()
