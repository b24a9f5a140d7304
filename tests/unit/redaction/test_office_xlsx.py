"""Formula, sheet-name and number helpers of the XLSX engine, without a workbook."""

from __future__ import annotations

import pytest

from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.office.xlsx import (
    Redactor,
    SheetNames,
    literal_ranges,
    number_display,
    valid_sheet_name,
)

CUSTOMER = "Kestrel Dynamics GmbH"


def _find(text: str) -> list[Redaction]:
    start = text.find("Kestrel")
    return [Redaction(start, start + 7, "CUSTOMER", "[CUSTOMER-1]")] if start >= 0 else []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("71234567", "71234567"), ("7.1234567E7", "71234567"), ("1.25", "1.25"), ("0.1", "0.1"), ("abc", "abc")],
)
def test_number_display(raw: str, shown: str) -> None:
    assert number_display(raw) == shown


def test_literal_ranges_skip_quoted_sheet_names_and_escaped_quotes() -> None:
    formula = 'IF(\'It\'\'s "x"\'!A1="a ""b""",1,"c")'
    assert [formula[a:b] for a, b in literal_ranges(formula)] == ['a ""b""', "c"]


def test_sheet_renames_follow_quoted_and_bare_references() -> None:
    names = SheetNames({CUSTOMER: "████████", "Kestrel": "X"})
    assert names.apply(f"='{CUSTOMER}'!A1+Kestrel!B2") == "='████████'!A1+'X'!B2"
    assert names.apply("=NotKestrel!A1") == "=NotKestrel!A1"


def test_valid_sheet_names() -> None:
    taken: set[str] = {"orders"}
    assert valid_sheet_name("[CUSTOMER-1] orders", taken) == "(CUSTOMER-1) orders"
    assert valid_sheet_name("[CUSTOMER-1] orders", taken) == "(CUSTOMER-1) orders (2)"
    assert len(valid_sheet_name("x" * 40, taken)) == 31


def test_formula_literals_are_redacted_in_place_else_the_formula_goes() -> None:
    redactor = Redactor(_find, SheetNames({}))
    assert redactor.formula('IF(A1="Kestrel",1,0)') == 'IF(A1="[CUSTOMER-1]",1,0)'
    assert redactor.formula("Kestrel_total*2") is None  # a name outside literals
    assert redactor.formula("A1&B1", cached_redacted=True) is None  # it could compute the value again
    assert redactor.formula("[1]Sheet1!A1") is None  # an external workbook
    assert redactor.formula("SUM(A1:A3)") == "SUM(A1:A3)"
