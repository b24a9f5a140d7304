"""Import a customer list from one column of a CSV or XLSX file.

Threats and guards:

* Huge or compressed-bomb files: the upload is capped (``MAX_IMPORT_BYTES``);
  for XLSX the declared uncompressed size of the zip members is capped before
  openpyxl parses anything, and rows are read in streaming mode and capped.
* Formula injection: a value that a spreadsheet would execute when the list is
  exported again (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return)
  or an XLSX formula cell in the chosen column is refused with its row
  number, never imported. Formulas in other columns (totals, lookups) are
  not read as names and do not stop the import.
* Encoding: CSV is decoded by the text engine's deterministic rule
  (:func:`exchange.domain.redaction.text.detect_encoding`): a byte-order mark
  (UTF-8/16/32), else strict UTF-8, else GB18030 when it reads as Chinese.
  Its last resort, a Western single-byte code page, is refused with a hint:
  a name decoded wrongly would silently never match.

Column selection: ``column`` may be a header name (case-insensitive), a
spreadsheet letter (``B``) or a 1-based number. Without it, a single-column
file is taken as is, and otherwise a header such as "customer", "customers",
"company" or "name" is looked for. The first row is treated as a header when a
header name was asked for or recognised, and is skipped.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exchange.domain.errors import InvalidInput, UnsupportedFile

MAX_IMPORT_BYTES = 5_000_000
MAX_UNCOMPRESSED_BYTES = 50_000_000
MAX_ROWS = 20_000
MAX_CUSTOMERS = 5_000
MAX_VALUE_CHARS = 200
_HEADER_WORDS = (
    "customer",
    "customers",
    "customer name",
    "company",
    "company name",
    "name",
    "kunde",
    "client",
)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _FormulaCell(str):
    """An XLSX cell's formula text: refused only if it sits in the chosen column."""

    __slots__ = ()


def import_customers(data: bytes, filename: str, column: str | None = None) -> list[str]:
    """Customer names from ``column`` of a CSV/XLSX upload, deduplicated, in file order."""
    return _extract(_rows(data, filename), filename, column)


@dataclass(frozen=True)
class Column:
    """One column of a customer list, as offered to the person choosing it."""

    #: what to pass as ``column``: the header, or the letter when the header is blank or repeated
    key: str
    header: str
    letter: str
    #: the first few values under the header (formulas left out)
    sample: tuple[str, ...]


def list_columns(data: bytes, filename: str) -> tuple[list[Column], str | None]:
    """The file's columns and the key :func:`import_customers` would choose unasked (None: it would ask)."""
    rows = [r for r in _rows(data, filename) if any(c.strip() for c in r)]
    if not rows:
        raise InvalidInput(f"{filename}: the file has no rows")
    width = max(len(r) for r in rows)
    header = [(rows[0][i].strip() if i < len(rows[0]) else "") for i in range(width)]
    folded = [h.casefold() for h in header]
    columns: list[Column] = []
    for index, name in enumerate(header):
        letter = _letter(index)
        unique = bool(name) and folded.count(name.casefold()) == 1
        sample = tuple(
            row[index].strip()
            for row in rows[1:6]
            if index < len(row) and row[index].strip() and not isinstance(row[index], _FormulaCell)
        )[:3]
        columns.append(Column(name if unique else letter, name, letter, sample))
    known = [i for i, h in enumerate(folded) if h in _HEADER_WORDS]
    suggested = columns[known[0]].key if known else (columns[0].key if width == 1 else None)
    return columns, suggested


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _rows(data: bytes, filename: str) -> list[list[str]]:
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"{filename}: the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    lower = filename.lower()
    if lower.endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        return _xlsx_rows(data, filename)
    if lower.endswith((".csv", ".txt", ".tsv")):
        return _csv_rows(data, filename)
    raise UnsupportedFile(f"{filename}: customer lists must be .csv or .xlsx")


def _csv_rows(data: bytes, filename: str) -> list[list[str]]:
    # Imported here: the redaction package imports detection modules, so a module-level import cycles.
    from exchange.domain.redaction.text import detect_encoding  # noqa: PLC0415

    try:
        decoded = detect_encoding(data)
    except UnsupportedFile as exc:
        raise InvalidInput(f"{filename}: {exc.message}") from None
    if not decoded.encoding.unicode:
        raise InvalidInput(
            f"{filename}: not UTF-8, UTF-16 or GB18030 text; save it as 'CSV UTF-8' and upload again"
        )
    text = decoded.text
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise InvalidInput(f"{filename}: more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise InvalidInput(f"{filename}: malformed CSV ({exc})") from None
    return rows


def _xlsx_rows(data: bytes, filename: str) -> list[list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > 1000 or sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
                raise InvalidInput(f"{filename}: the workbook expands to more than 50 MB")
    except zipfile.BadZipFile:
        raise UnsupportedFile(f"{filename}: not a valid .xlsx workbook") from None
    import openpyxl  # noqa: PLC0415  (heavy; only XLSX uploads need it)

    rows: list[list[str]] = []
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles/extensions it ignores; irrelevant here.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            try:
                sheet = book.worksheets[0]
                for row in sheet.iter_rows():
                    cells: list[str] = []
                    for cell in row:
                        value = cell.value
                        if getattr(cell, "data_type", None) == "f":
                            cells.append(_FormulaCell(str(value)))
                            continue
                        cells.append("" if value is None else str(value))
                    rows.append(cells)
                    if len(rows) > MAX_ROWS:
                        raise InvalidInput(f"{filename}: more than {MAX_ROWS} rows")
            finally:
                book.close()
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001  (openpyxl raises many types for corrupt files)
        raise UnsupportedFile(f"{filename}: could not read the workbook ({type(exc).__name__})") from None
    return rows


def _column_index(header: Sequence[str], column: str, filename: str) -> tuple[int, bool]:
    """(index, header_row) for a requested column."""
    wanted = column.strip().casefold()
    for index, name in enumerate(header):
        if name.strip().casefold() == wanted:
            return index, True
    if wanted.isdigit() and int(wanted) >= 1:
        return int(wanted) - 1, False
    if wanted.isalpha() and len(wanted) <= 2:
        index = 0
        for ch in wanted:
            index = index * 26 + (ord(ch) - ord("a") + 1)
        return index - 1, False
    names = ", ".join(repr(h) for h in header if h.strip()) or "none"
    raise InvalidInput(f"{filename}: no column '{column}' (header has: {names})")


def _extract(rows: list[list[str]], filename: str, column: str | None) -> list[str]:
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InvalidInput(f"{filename}: the file has no rows")
    header = [c.strip() for c in rows[0]]
    if column is not None:
        index, has_header = _column_index(header, column, filename)
        # A column picked by letter still has the header the file starts with (the editor's
        # column picker offers letters for blank or repeated headers).
        has_header = has_header or any(h.casefold() in _HEADER_WORDS for h in header)
    else:
        width = max(len(r) for r in rows)
        lowered = [h.casefold() for h in header]
        known = [i for i, h in enumerate(lowered) if h in _HEADER_WORDS]
        if known:
            index, has_header = known[0], True
        elif width == 1:
            index, has_header = 0, False
        else:
            names = ", ".join(repr(h) for h in header)
            raise InvalidInput(
                f"{filename}: {width} columns; choose which holds the customer names ({names})"
            )
    body: Iterable[tuple[int, list[str]]] = enumerate(
        rows[1:] if has_header else rows, start=2 if has_header else 1
    )
    out: list[str] = []
    seen: set[str] = set()
    for number, row in body:
        value = row[index].strip() if index < len(row) else ""
        if not value:
            continue
        raw = row[index]
        if isinstance(raw, _FormulaCell):
            raise InvalidInput(f"{filename}: row {number}: a cell holds a formula; paste values only")
        if raw.startswith(_FORMULA_PREFIXES) or value.startswith(_FORMULA_PREFIXES):
            raise InvalidInput(
                f"{filename}: row {number}: '{value[:40]}' starts with a formula character; "
                "remove it (values that spreadsheets execute are refused)"
            )
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidInput(f"{filename}: row {number}: longer than {MAX_VALUE_CHARS} characters")
        key = " ".join(value.casefold().split())
        if key in seen:
            continue
        seen.add(key)
        out.append(" ".join(value.split()))
        if len(out) > MAX_CUSTOMERS:
            raise InvalidInput(f"{filename}: more than {MAX_CUSTOMERS} customers")
    if not out:
        raise InvalidInput(f"{filename}: the chosen column holds no names")
    return out
