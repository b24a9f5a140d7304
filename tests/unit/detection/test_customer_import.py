from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from exchange.domain.detection import import_customers
from exchange.domain.errors import InvalidInput, UnsupportedFile


def make_csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def make_xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_csv_by_header_name() -> None:
    data = make_csv(
        [
            ["id", "Customer", "country"],
            ["1", "Kestrel Dynamics GmbH", "DE"],
            ["2", "Müller Magnet AG", "DE"],
            ["3", "kestrel dynamics gmbh", "DE"],
            ["4", "", "FR"],
        ]
    )
    assert import_customers(data, "list.csv", "customer") == ["Kestrel Dynamics GmbH", "Müller Magnet AG"]


def test_csv_semicolon_and_bom_and_letter_column() -> None:
    data = b"\xef\xbb\xbf" + make_csv([["a", "Oakridge Acoustics Ltd"], ["b", "Kestrel Dynamics GmbH"]], ";")
    assert import_customers(data, "list.csv", "B") == ["Oakridge Acoustics Ltd", "Kestrel Dynamics GmbH"]


def test_single_column_without_header() -> None:
    assert import_customers(b"Kestrel Dynamics GmbH\nOakridge Acoustics Ltd\n", "c.csv", None) == [
        "Kestrel Dynamics GmbH",
        "Oakridge Acoustics Ltd",
    ]


def test_recognised_header_is_used_without_column() -> None:
    data = make_csv([["Company", "City"], ["Kestrel Dynamics GmbH", "Ulm"]])
    assert import_customers(data, "c.csv", None) == ["Kestrel Dynamics GmbH"]


def test_ambiguous_columns_need_a_choice() -> None:
    data = make_csv([["a", "b"], ["x1", "y1"]])
    with pytest.raises(InvalidInput, match="choose which"):
        import_customers(data, "c.csv", None)


def test_unknown_column() -> None:
    with pytest.raises(InvalidInput, match="no column 'client id'"):
        import_customers(make_csv([["Customer"], ["Kestrel"]]), "c.csv", "client id")


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+49 cmd", "-2+3", "@SUM(A1)"])
def test_formula_injection_is_refused(value: str) -> None:
    data = make_csv([["Customer"], ["Kestrel Dynamics GmbH"], [value]])
    with pytest.raises(InvalidInput, match=r"row 3: .*formula"):
        import_customers(data, "c.csv", "Customer")


def test_non_utf8_csv() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8"):
        import_customers("Müller Magnet AG\n".encode("latin-1"), "c.csv", None)


def test_xlsx_by_header_and_values() -> None:
    data = make_xlsx(
        [
            ["Customer", "Country"],
            ["Kestrel Dynamics GmbH", "DE"],
            ["Oakridge Acoustics Ltd", "UK"],
            [None, "FR"],
        ]
    )
    assert import_customers(data, "list.xlsx", "Customer") == [
        "Kestrel Dynamics GmbH",
        "Oakridge Acoustics Ltd",
    ]


def test_xlsx_formula_cell_is_refused() -> None:
    data = make_xlsx([["Customer"], ["Kestrel Dynamics GmbH"], ['=A2&"x"']])
    with pytest.raises(InvalidInput, match="row 3: a cell holds a formula"):
        import_customers(data, "list.xlsx", "Customer")


def test_corrupt_xlsx_and_unknown_type() -> None:
    with pytest.raises(UnsupportedFile):
        import_customers(b"PK\x03\x04 not really a zip", "list.xlsx", None)
    with pytest.raises(UnsupportedFile):
        import_customers(b"whatever", "list.pdf", None)


def test_size_limits() -> None:
    with pytest.raises(InvalidInput, match="larger than"):
        import_customers(b"x" * 5_000_001, "c.csv", None)
    with pytest.raises(InvalidInput, match="longer than 200"):
        import_customers(("K" * 201 + "\n").encode(), "c.csv", None)
