"""Customer import for the policy editor: formulas outside the chosen column, Chinese encodings, columns."""

from __future__ import annotations

import io

import openpyxl
import pytest

from exchange.domain.detection import import_customers
from exchange.domain.detection.customer_import import list_columns
from exchange.domain.errors import InvalidInput

CJK = "宁波瀚海磁电有限公司"


def workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FORMULAS = workbook(
    [
        ["Customer", "Units", "Tag"],
        ["Kestrel Dynamics GmbH", 1200, '=A2&"x"'],
        [CJK, 800, '=A3&"x"'],
        ["Total", "=SUM(B2:B3)", None],
    ]
)


def test_formulas_in_other_columns_do_not_stop_the_import() -> None:
    assert import_customers(FORMULAS, "list.xlsx", "Customer") == ["Kestrel Dynamics GmbH", CJK, "Total"]
    assert import_customers(FORMULAS, "list.xlsx", "A") == ["Kestrel Dynamics GmbH", CJK, "Total"]


@pytest.mark.parametrize(("column", "row"), [("Tag", 2), ("Units", 4)])
def test_a_formula_in_the_chosen_column_is_refused_with_its_row(column: str, row: int) -> None:
    with pytest.raises(InvalidInput, match=f"row {row}: a cell holds a formula"):
        import_customers(FORMULAS, "list.xlsx", column)


@pytest.mark.parametrize(
    "data",
    [
        "客户名称\n宁波瀚海磁电有限公司\n上海稀土贸易有限公司\n".encode("gb18030"),
        b"\xef\xbb\xbf" + "客户名称\n宁波瀚海磁电有限公司\n上海稀土贸易有限公司\n".encode(),
        "客户名称\n宁波瀚海磁电有限公司\n上海稀土贸易有限公司\n".encode("utf-16"),
        "客户名称\r\n宁波瀚海磁电有限公司\r\n上海稀土贸易有限公司\r\n".encode(),
    ],
    ids=["gb18030", "utf-8-bom", "utf-16-bom", "utf-8-crlf"],
)
def test_chinese_csv_in_every_usual_encoding(data: bytes) -> None:
    assert import_customers(data, "客户.csv", "客户名称") == [CJK, "上海稀土贸易有限公司"]


def test_a_western_code_page_is_still_refused_rather_than_guessed() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8, UTF-16 or GB18030"):
        import_customers("Müller Magnet AG\n".encode("latin-1"), "c.csv", None)


def test_columns_are_offered_by_header_with_samples() -> None:
    columns, suggested = list_columns(FORMULAS, "list.xlsx")
    assert [(c.key, c.header, c.letter) for c in columns] == [
        ("Customer", "Customer", "A"),
        ("Units", "Units", "B"),
        ("Tag", "Tag", "C"),
    ]
    assert suggested == "Customer"
    assert columns[0].sample == ("Kestrel Dynamics GmbH", CJK, "Total")
    assert columns[2].sample == (), "formulas are no sample values"
    # Every key offered imports that column.
    assert import_customers(FORMULAS, "list.xlsx", columns[0].key)[0] == "Kestrel Dynamics GmbH"


def test_blank_or_repeated_headers_are_offered_by_letter() -> None:
    data = b"Name,,name,Country\nKestrel Dynamics GmbH,x,y,DE\n"
    columns, suggested = list_columns(data, "c.csv")
    assert [c.key for c in columns] == ["A", "B", "C", "Country"]
    assert suggested == "A"
    assert import_customers(data, "c.csv", "C") == ["y"]
    many = ",".join(f"h{n}" for n in range(30)) + "\n" + ",".join("v" for _ in range(30)) + "\n"
    assert [c.letter for c in list_columns(many.encode(), "c.csv")[0]][25:28] == ["Z", "AA", "AB"]


def test_no_suggestion_when_the_import_would_ask() -> None:
    columns, suggested = list_columns(b"a,b\nx1,y1\n", "c.csv")
    assert suggested is None and [c.key for c in columns] == ["a", "b"]
    assert list_columns(b"Kestrel Dynamics GmbH\n", "c.csv")[1] == "Kestrel Dynamics GmbH"
    with pytest.raises(InvalidInput, match="no rows"):
        list_columns(b"\n\n", "c.csv")
