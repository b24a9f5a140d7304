"""The XLSX engine end to end, checked by independent means.

Workbooks come from openpyxl and LibreOffice (see :mod:`tests.corpus.office_xlsx`).
Every output is unzipped and every part read raw (no secret may occur,
case-insensitively), and LibreOffice converts input and output to CSV, one
file per sheet: the output must open, keep the sheets, rows and columns, keep
the words that are not secret, and show no secret either.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.filetypes import sniff_media_type
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.office.xlsx import XLSX, XlsxEngine
from tests.corpus import office_xlsx as corpus

NAMES = ("openpyxl_everything", "lo_resaved", "lo_csv", "lo_html")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(corpus.POLICY)


@pytest.fixture(scope="session")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture(scope="session")
def workbooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus.build(tmp_path_factory.mktemp("xlsx_corpus"))


@pytest.fixture(scope="session")
def outputs(
    workbooks: dict[str, Path], detector: Detector, policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[RedactionResult, Path]]:
    engine = XlsxEngine()
    out_dir = tmp_path_factory.mktemp("xlsx_out")
    results = {}
    for name, path in workbooks.items():
        document = engine.read(path, EngineLimits())
        planner = RecipientPlanner(detector, policy)
        planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
        for recipient in ("supplier", "bureau"):
            result = engine.redact(document, planner.plan(recipient))
            target = out_dir / f"{name}_{recipient}.xlsx"
            if result.data is not None:
                target.write_bytes(result.data)
            results[(name, recipient)] = (result, target)
    return results


def raw_parts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n).decode("utf-8", "replace") for n in archive.namelist()}


@pytest.mark.parametrize("name", NAMES)
def test_sniffed_as_xlsx(name: str, workbooks: dict[str, Path]) -> None:
    data = workbooks[name].read_bytes()
    with workbooks[name].open("rb") as handle:
        assert sniff_media_type(data[:8192], f"{name}.xlsx", handle) == XLSX


@pytest.mark.parametrize("name", NAMES)
def test_supplier_output_has_no_secret_in_any_part(
    name: str, outputs: dict[tuple[str, str], tuple[RedactionResult, Path]]
) -> None:
    result, path = outputs[(name, "supplier")]
    assert result.ok, json.dumps(result.report)
    assert result.report["counts"]
    for part, text in raw_parts(path).items():
        for secret in corpus.SECRETS:
            assert secret.casefold() not in text.casefold(), (part, secret)
    # Report carries no document text.
    assert corpus.CUSTOMER not in json.dumps(result.report, ensure_ascii=False)


def test_bureau_keeps_the_customer_but_not_part_or_secret(
    outputs: dict[tuple[str, str], tuple[RedactionResult, Path]],
) -> None:
    result, path = outputs[("openpyxl_everything", "bureau")]
    assert result.ok, json.dumps(result.report)
    everything = "\n".join(raw_parts(path).values())
    assert corpus.CUSTOMER in everything
    for secret in (corpus.PART, corpus.SECRET, str(corpus.ACCOUNT)):
        assert secret not in everything
    assert "[PART_NUMBER-1]" in everything


def test_hidden_sheets_are_reported_and_redacted(
    outputs: dict[tuple[str, str], tuple[RedactionResult, Path]],
) -> None:
    result, path = outputs[("openpyxl_everything", "supplier")]
    assert result.report["sheets"] == {"count": 5, "hidden": 1, "very_hidden": 1}
    workbook = raw_parts(path)["xl/workbook.xml"]
    assert 'state="veryHidden"' in workbook and 'state="hidden"' in workbook


def test_customer_named_sheet_is_renamed_and_references_follow(
    outputs: dict[tuple[str, str], tuple[RedactionResult, Path]],
) -> None:
    _result, path = outputs[("openpyxl_everything", "supplier")]
    parts = raw_parts(path)
    assert 'name="\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588"' in parts["xl/workbook.xml"]
    # C6 pointed into the renamed sheet: the reference follows the new name.
    assert "'\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588'!A1" in parts["xl/worksheets/sheet1.xml"]


@pytest.mark.parametrize("name", NAMES)
def test_libreoffice_opens_output_with_same_shape(
    name: str,
    workbooks: dict[str, Path],
    outputs: dict[tuple[str, str], tuple[RedactionResult, Path]],
    tmp_path: Path,
) -> None:
    _result, path = outputs[(name, "supplier")]
    before = corpus.sheets_as_csv(workbooks[name], tmp_path / "in")
    after = corpus.sheets_as_csv(path, tmp_path / "out")
    assert len(after) == len(before) >= 1

    def shapes(sheets: dict[str, list[list[str]]]) -> list[list[int]]:
        # Files are named after sheets, and a sheet may be renamed: compare shapes, not names.
        return sorted([len(r) for r in rows] for rows in sheets.values())

    assert shapes(after) == shapes(before)
    shown = "\n".join(",".join(r) for rows in after.values() for r in rows)
    for secret in corpus.SECRETS:
        assert secret.casefold() not in shown.casefold(), secret
    shown_in = "\n".join(",".join(r) for rows in before.values() for r in rows)
    for word in corpus.KEPT:
        if word in shown_in:
            assert word in shown


def test_leak_withholds(workbooks: dict[str, Path], detector: Detector, policy: Policy) -> None:
    engine = XlsxEngine()
    document = engine.read(workbooks["openpyxl_everything"], EngineLimits())
    plan = RecipientPlanner(detector, policy).plan("supplier")
    plan.find = lambda text: []  # a detector that misses everything
    result = engine.redact(document, plan)
    assert not result.ok and result.data is None
    assert result.report["withheld"]
