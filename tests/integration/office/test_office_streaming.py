"""Large Office parts: kept in the source ZIP, streamed through redaction and verification.

The workbooks are written by openpyxl and re-saved by LibreOffice (shared
strings, cached formula results, hidden and very hidden sheets), with
worksheets larger than :data:`LAZY_PART_BYTES` so the streamed path is the
one under test. Outputs are checked without the engine: parts are unzipped
and read raw, cells counted with a plain lxml parse, and LibreOffice
converts the output to CSV.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.office.package import (
    LAZY_PART_BYTES,
    LeakScan,
    OfficePackage,
    StreamedPart,
    verify_package,
)
from exchange.domain.redaction.office.xlsx import XlsxEngine
from tests.corpus import office_xlsx as corpus

S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ROWS = 9000
SHEETS = ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml")


def _large_source(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    orders = wb.active
    orders.title = "Orders"
    orders.append(["Line", "Customer", "Note", "Account", "Label"])
    # Texts and numbers repeat (every distinct one is a unit the NER model reads); the sheets are large.
    for i in range(1, ROWS + 1):
        customer = corpus.CUSTOMER if i % 7 == 0 else f"Client {i % 300}"
        account = corpus.ACCOUNT if i % 11 == 0 else i % 250
        # LibreOffice stores each formula's result beside it: the customer's name on every 7th row.
        label = '=$B$8&" ships"' if i % 7 == 0 else '=$B$3&" ships"'
        orders.append([i % 500, customer, f"order {i % 100} for Bremen", account, label])
    hidden = wb.create_sheet("Hidden")
    hidden.sheet_state = "hidden"
    for i in range(ROWS):
        part = corpus.PART if i % 5 == 0 else f"P-{i % 50}"
        account = corpus.ACCOUNT if i % 13 == 0 else i % 300
        hidden.append([f"step {i % 40}: {corpus.SECRET}", part, account, f"turbine {i % 100}", i % 70])
    deep = wb.create_sheet("Deep")
    deep.sheet_state = "veryHidden"
    for i in range(ROWS):
        name = corpus.CUSTOMER if i % 3 == 0 else f"rotor {i % 90}"
        deep.append([name, i % 400, f"Quantity {i % 60}", "x", "=$A$1"])
    wb.save(path)


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(corpus.POLICY)


@pytest.fixture(scope="session")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture(scope="session")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("xlsx_large")
    source = directory / "src" / "large.xlsx"
    source.parent.mkdir()
    _large_source(source)
    (resaved,) = corpus.convert([source], directory / "lo", "xlsx:Calc MS Excel 2007 XML", timeout=300)
    return resaved


def _redact(path: Path, detector: Detector, policy: Policy, recipient: str = "supplier") -> RedactionResult:
    engine = XlsxEngine()
    document = engine.read(path, EngineLimits())
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan(recipient))


@pytest.fixture(scope="session")
def large_output(
    large: Path, detector: Detector, policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    result = _redact(large, detector, policy)
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = tmp_path_factory.mktemp("xlsx_large_out") / "large_supplier.xlsx"
    out.write_bytes(result.data)
    return out


def _cells(data: bytes) -> tuple[int, int, Counter[str]]:
    """(rows, cells, cell types) of one worksheet, by a plain parse."""
    rows = cells = 0
    kinds: Counter[str] = Counter()
    for _event, element in etree.iterparse(io.BytesIO(data), events=("end",)):
        if element.tag == f"{{{S_NS}}}row":
            rows += 1
        elif element.tag == f"{{{S_NS}}}c":
            cells += 1
            kinds[element.get("t", "n")] += 1
    return rows, cells, kinds


def test_large_sheets_are_streamed_from_the_source(large: Path) -> None:
    package = OfficePackage.open(large)
    sizes = {name: package.part_size(name) for name in SHEETS}
    assert all(size > LAZY_PART_BYTES for size in sizes.values()), sizes
    assert all(package.is_streamed(name) for name in SHEETS)
    assert not package.is_streamed("xl/workbook.xml")


def test_apply_spools_a_changed_large_sheet(large: Path, detector: Detector, policy: Policy) -> None:
    engine = XlsxEngine()
    document = engine.read(large, EngineLimits())
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    package = document.package.copy()  # type: ignore[attr-defined]
    engine.apply(package, planner.plan("supplier"))
    # Each sheet holds values the supplier may not see in its own cells (numbers, formula results):
    # all three are rewritten, none whole in memory.
    assert all(isinstance(package.parts[name], StreamedPart) for name in SHEETS)


def test_every_cell_of_every_large_sheet_is_redacted(large: Path, large_output: Path) -> None:
    with zipfile.ZipFile(large) as before, zipfile.ZipFile(large_output) as after:
        for info in after.infolist():
            raw = after.read(info).decode("utf-8", "replace").casefold()
            for secret in corpus.SECRETS:
                assert secret.casefold() not in raw, (info.filename, secret)
        for name in SHEETS:
            rows_in, cells_in, kinds_in = _cells(before.read(name))
            rows_out, cells_out, kinds_out = _cells(after.read(name))
            # Nothing is lost: the same rows and cells, a redacted value turned into an inline string.
            assert (rows_out, cells_out) == (rows_in, cells_in) and rows_in >= ROWS
            assert kinds_out["inlineStr"] > kinds_in["inlineStr"], name
        states_in = re.findall(rb'<sheet [^>]*state="(\w+)"', before.read("xl/workbook.xml"))
        states_out = re.findall(rb'<sheet [^>]*state="(\w+)"', after.read("xl/workbook.xml"))
    # LibreOffice saves a very hidden sheet as hidden; both stay hidden in the output.
    assert states_out == states_in == [b"visible", b"hidden", b"hidden"]


def test_cached_formula_results_are_redacted(large: Path, large_output: Path) -> None:
    def label_cells(data: bytes) -> dict[str, tuple[str | None, str]]:
        out = {}
        for _event, cell in etree.iterparse(io.BytesIO(data), events=("end",), tag=f"{{{S_NS}}}c"):
            ref = cell.get("r") or ""
            if ref.startswith("E") and ref != "E1":
                formula = cell.find(f"{{{S_NS}}}f")
                out[ref] = (formula.text if formula is not None else None, "".join(cell.itertext()))
        return out

    with zipfile.ZipFile(large) as before, zipfile.ZipFile(large_output) as after:
        cells_in = label_cells(before.read(SHEETS[0]))
        cells_out = label_cells(after.read(SHEETS[0]))
    named = [ref for ref, (_f, shown) in cells_in.items() if corpus.CUSTOMER in shown]
    assert len(named) == ROWS // 7 and len(cells_in) == ROWS
    for ref in named:
        formula, shown = cells_out[ref]
        # The formula would compute the name again: it goes, its redacted result stays.
        assert formula is None and "\u2588" in shown and shown.endswith(" ships"), (ref, shown)
    kept = [ref for ref in cells_in if ref not in named]
    assert all(cells_out[ref][0] is not None for ref in kept)


def test_libreoffice_opens_the_large_output_with_same_shape(
    large: Path, large_output: Path, tmp_path: Path
) -> None:
    before = corpus.sheets_as_csv(large, tmp_path / "in")
    after = corpus.sheets_as_csv(large_output, tmp_path / "out")
    assert len(before) == len(after) == 3
    assert sorted(len(rows) for rows in after.values()) == sorted(len(rows) for rows in before.values())
    shown = "\n".join(",".join(r) for rows in after.values() for r in rows)
    for secret in corpus.SECRETS:
        assert secret.casefold() not in shown.casefold(), secret
    assert "order 99 for Bremen" in shown and "turbine 17" in shown


def _plain_large(path: Path) -> None:
    """A large sheet with nothing to find, and a small one naming the customer."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    plain = wb.create_sheet("Plain")
    for i in range(ROWS * 2):
        plain.append([i % 100, f"rotor {i % 100}", "turbine", i % 70 * 1.5])
    named = wb.create_sheet("Named")
    named.append([corpus.CUSTOMER])
    wb.save(path)


def test_untouched_large_sheet_keeps_its_bytes(tmp_path: Path, detector: Detector, policy: Policy) -> None:
    path = tmp_path / "plain.xlsx"
    _plain_large(path)
    result = _redact(path, detector, policy)
    assert result.ok and result.data is not None, json.dumps(result.report)
    with zipfile.ZipFile(path) as before, zipfile.ZipFile(io.BytesIO(result.data)) as after:
        assert before.getinfo("xl/worksheets/sheet1.xml").file_size > LAZY_PART_BYTES
        assert after.read("xl/worksheets/sheet1.xml") == before.read("xl/worksheets/sheet1.xml")
        assert corpus.CUSTOMER.encode() not in after.read("xl/worksheets/sheet2.xml")


def test_source_changed_after_reading_withholds(tmp_path: Path, detector: Detector, policy: Policy) -> None:
    path = tmp_path / "plain.xlsx"
    _plain_large(path)
    engine = XlsxEngine()
    document = engine.read(path, EngineLimits())
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    # Another file in its place: the large sheet read again must not come from it.
    replacement = tmp_path / "other.xlsx"
    _plain_large(replacement)
    shutil.move(replacement, path)
    result = engine.redact(document, planner.plan("supplier"))
    assert not result.ok and result.data is None
    assert "changed" in result.report["withheld"]


def _rewrite_sheet(source: Path, target: Path, edit: object) -> None:
    with zipfile.ZipFile(source) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["xl/worksheets/sheet1.xml"] = edit(parts["xl/worksheets/sheet1.xml"])  # type: ignore[operator]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def _doctype_at_start(data: bytes) -> bytes:
    declaration, _, rest = data.partition(b"?>")
    return declaration + b'?><!DOCTYPE worksheet [<!ENTITY e "Kestrel">]>' + rest


def _entity_across_chunks(data: bytes) -> bytes:
    # A comment is well-formed XML: only the byte check sees the declaration, which here
    # straddles the first two 64 KiB chunks the part is read in.
    cut = data.index(b"<row ", 2**16 - 2000)
    padding = b"x" * (2**16 - 4 - cut - len(b"<!-- "))
    return data[:cut] + b"<!-- " + padding + b"<!ENTITY e 'Kestrel'> -->" + data[cut:]


def _truncated(data: bytes) -> bytes:
    return data[: len(data) - 500]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [(_doctype_at_start, "DTD"), (_entity_across_chunks, "DTD"), (_truncated, "malformed")],
)
def test_hostile_large_sheet_is_refused(tmp_path: Path, edit: object, reason: str) -> None:
    path = tmp_path / "plain.xlsx"
    _plain_large(path)
    hostile = tmp_path / "hostile.xlsx"
    _rewrite_sheet(path, hostile, edit)
    assert OfficePackage.open(hostile).is_streamed("xl/worksheets/sheet1.xml")
    with pytest.raises(UnsupportedFile, match=reason):
        XlsxEngine().read(hostile, EngineLimits())


def test_leak_split_over_a_window_boundary_is_found() -> None:
    scan = LeakScan([corpus.CUSTOMER])
    filler = [f"filler {i} " * 8 for i in range(LeakScan.WINDOW // 80 + 10)]
    # The first batch fills a window, so it is searched with the name's first half last in it.
    scan.add([*filler, "Kestrel Dynamics"])
    scan.add(["GmbH", "more"])
    assert scan.finish() == [corpus.CUSTOMER]


def test_verification_reads_comments_instructions_and_text_outside_the_root(
    large_output: Path,
) -> None:
    data = large_output.read_bytes()
    assert verify_package(data, [corpus.CUSTOMER], set()) == ([], [])
    value = b"Kestrel Dynamics GmbH"
    hidden_places = {
        "comment": lambda xml: xml.replace(b"<sheetData>", b"<sheetData><!-- " + value + b" -->", 1),
        "instruction": lambda xml: xml.replace(b"<sheetData>", b"<sheetData><?note " + value + b"?>", 1),
        "after root": lambda xml: xml + b"<!-- " + value + b" -->",
    }
    for where, edit in hidden_places.items():
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = {info.filename: archive.read(info) for info in archive.infolist()}
        parts["xl/worksheets/sheet2.xml"] = edit(parts["xl/worksheets/sheet2.xml"])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, part in parts.items():
                archive.writestr(name, part)
        leaks, unreadable = verify_package(buffer.getvalue(), [corpus.CUSTOMER], set())
        assert leaks == [("xl/worksheets/sheet2.xml", corpus.CUSTOMER)], where
        assert unreadable == []


def test_streamed_verification_finds_a_name_split_over_cells(large_output: Path) -> None:
    with zipfile.ZipFile(large_output) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet = parts[SHEETS[2]]
    # Late in a large sheet, well past the first search window: two neighbouring cells.
    split = (
        b'<row r="99999"><c r="A99999" t="inlineStr"><is><t>Kestrel Dynamics</t></is></c>'
        b'<c r="B99999" t="inlineStr"><is><t>GmbH</t></is></c></row>'
    )
    parts[SHEETS[2]] = re.sub(rb"</(\w+:)?sheetData>", lambda m: split + m.group(0), sheet, count=1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, part in parts.items():
            archive.writestr(name, part)
    leaks, _unreadable = verify_package(buffer.getvalue(), [corpus.CUSTOMER], set())
    assert (SHEETS[2], corpus.CUSTOMER) in leaks


def _stray_content(data: bytes) -> bytes:
    """What no producer writes in a row, each holding the customer's name, in a large sheet."""
    name = corpus.CUSTOMER.encode()
    row = re.search(rb'<row r="5"[^>]*>', data)
    cell = re.search(rb'<c r="A7"[^>]*>', data)
    other = re.search(rb'<c r="B9"[^>]*>', data)
    assert row is not None and cell is not None and other is not None
    end_of_row = data.index(b"</row>", row.end())
    return (
        data[: row.end()]
        + b"<!-- "
        + name
        + b" -->"
        + data[row.end() : end_of_row]
        + name
        + b"</row>"
        + name
        + data[end_of_row + len(b"</row>") : cell.end()]
        + b'<x:note xmlns:x="urn:example">'
        + name
        + b"</x:note>"
        + data[cell.end() : other.start()]
        + b'<c r="B9" t="n"><v>1</v><is><t>'
        + name
        + b"</t></is></c>"
        + data[data.index(b"</c>", other.end()) + len(b"</c>") :]
    )


def test_stray_content_in_rows_and_cells_is_removed_or_redacted(
    tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    path = tmp_path / "plain.xlsx"
    _plain_large(path)
    stray = tmp_path / "stray.xlsx"
    _rewrite_sheet(path, stray, _stray_content)
    with zipfile.ZipFile(stray) as archive:
        assert archive.read("xl/worksheets/sheet1.xml").count(corpus.CUSTOMER.encode()) == 5
    result = _redact(stray, detector, policy)
    assert result.ok and result.data is not None, json.dumps(result.report)
    with zipfile.ZipFile(io.BytesIO(result.data)) as archive:
        for info in archive.infolist():
            assert b"kestrel" not in archive.read(info).lower(), info.filename
        rows, cells, _kinds = _cells(archive.read("xl/worksheets/sheet1.xml"))
    assert (rows, cells) == (ROWS * 2, ROWS * 2 * 4)
