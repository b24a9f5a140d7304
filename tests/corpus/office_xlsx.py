"""Excel workbooks with customer names and trade secrets in every place a workbook has text.

Producers: openpyxl writes the workbooks (it is used here only to produce
files, never to check them), and LibreOffice re-saves them (``soffice
--convert-to xlsx``) and converts CSV and HTML tables to XLSX; its files
carry cached formula results, which openpyxl never writes. A few XML
tweaks after openpyxl add what it cannot write: an inline string and a
formula with a cached string result.

Places covered: shared strings (plain and rich text split over formatted
runs), an inline string, a part number and an account number stored as
numbers, formulas with string literals and their cached values, a sheet
named after the customer with formulas pointing into it, hidden and very
hidden sheets, a defined name, a data-validation list, a conditional format
with a literal, headers and footers, comments with their author, a table
with a customer column name, a chart whose title and category cache name
the customer, and document properties.

``soffice`` runs with a private, throw-away profile, like the PDF corpus.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile
from pathlib import Path

CUSTOMER = "Kestrel Dynamics GmbH"
CUSTOMER_CN = "宁波瀚海磁电有限公司"
SECRET = "grain boundary diffusion"
PART = "KD-4471-ZX"
ACCOUNT = 71234567
#: what no output may contain (case-insensitively), in any part
SECRETS = (CUSTOMER, CUSTOMER_CN, SECRET, PART, str(ACCOUNT), "Kestrel")
#: words that must survive (the redaction is surgical)
KEPT = ("turbine", "Bremen", "Quantity")

POLICY = f"""
version: 1
name: xlsx tests
terms:
  customers: ["{CUSTOMER}", "{CUSTOMER_CN}"]
  trade_secrets: ["{SECRET}"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}', ACCOUNT: '\\b7\\d{{7}}\\b'}}
recipients:
  supplier: {{redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER, ACCOUNT]}}
  bureau: {{redact: [TRADE_SECRET, PART_NUMBER, ACCOUNT], style: label}}
"""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise RuntimeError("LibreOffice is required for the XLSX corpus (libreoffice-calc-nogui)")
    return found


def convert(
    sources: list[Path],
    outdir: Path,
    target: str,
    *,
    timeout: float = 180,
    infilter: str | None = None,
    check: bool = True,
) -> list[Path]:
    """Convert with LibreOffice in one run; returns the outputs in the order of ``sources``."""
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir.parent / f"lo-profile-{outdir.name}"
    proc = subprocess.run(
        [
            soffice(),
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.as_uri()}",
            *([f"--infilter={infilter}"] if infilter else []),
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            *map(str, sources),
        ],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    extension = target.split(":", 1)[0]
    outputs = [outdir / (s.stem + "." + extension) for s in sources]
    missing = [p.name for p in outputs if check and not p.is_file()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(
            f"soffice failed (exit {proc.returncode}, missing {missing}): {proc.stderr[-2000:]!r}"
        )
    return outputs


#: LibreOffice's CSV filter: comma, double quote, UTF-8, first line 1, all sheets (one file each)
CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def sheets_as_csv(xlsx: Path, outdir: Path) -> dict[str, list[list[str]]]:
    """Every sheet of a workbook as rows, read by LibreOffice (file name suffix -> rows)."""
    # One file per sheet, named after the sheet: there is no single output to check for.
    convert([xlsx], outdir, CSV_ALL_SHEETS, check=False)
    out = {}
    for path in sorted(outdir.glob(xlsx.stem + "*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            out[path.stem.removeprefix(xlsx.stem)] = list(csv.reader(handle))
    return out


def _everything(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.table import Table

    wb = Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append(["Customer", "Item", "Quantity", "Part", "Account", "Note"])
    ws.append([CUSTOMER, "turbine", 4, PART, ACCOUNT, f"made by {SECRET}"])
    ws.append(["Other Ltd", "gearbox", 2, "X-1", 1234, "Bremen"])
    ws.append([CUSTOMER_CN, "magnet", 7, "X-2", 5678, "宁波港发货"])
    ws["A6"] = CellRichText(
        [
            TextBlock(InlineFont(b=True), "Kestrel"),
            " Dynamics ",
            TextBlock(InlineFont(i=True), "GmbH"),
            " ships",
        ]
    )
    ws["B6"] = '="Kestrel"&" Dynamics GmbH"'
    ws["C6"] = f"='{CUSTOMER}'!A1"
    ws["D6"] = '=IF(A2="Kestrel Dynamics GmbH","yes","no")'
    ws["E6"] = "=C2*2"
    ws["F6"] = "=A2"
    ws.oddHeader.center.text = f"Orders of {CUSTOMER}"
    ws.oddFooter.left.text = "Bremen office"
    ws["A2"].comment = Comment(f"Call {CUSTOMER} first", "Jane Author")
    dv = DataValidation(type="list", formula1=f'"{CUSTOMER},Other Ltd"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("A10")
    ws.conditional_formatting.add(
        "A2:A4",
        FormulaRule(formula=[f'A2="{CUSTOMER}"'], fill=PatternFill("solid", start_color="FFFF00")),
    )
    chart = BarChart()
    chart.title = f"Quantity for {CUSTOMER}"
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=4), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=4))
    ws.add_chart(chart, "H2")

    named = wb.create_sheet(CUSTOMER)
    named.append(["Kestrel unit", 1])
    named.append(["turbine", 2])

    tables = wb.create_sheet("Lines")
    tables.append(["Item", f"{CUSTOMER} qty"])
    tables.append(["turbine", 3])
    tables.append(["rotor", 5])
    tables.add_table(Table(displayName="Lines", ref="A1:B3"))

    hidden = wb.create_sheet("Hidden")
    hidden.append([f"Secret process: {SECRET}"])
    hidden.sheet_state = "hidden"
    very = wb.create_sheet("Deep")
    very.append([CUSTOMER, PART])
    very.sheet_state = "veryHidden"

    wb.defined_names["CustomerName"] = DefinedName("CustomerName", attr_text=f'"{CUSTOMER}"')
    wb.properties.creator = CUSTOMER
    wb.properties.title = f"Orders for {CUSTOMER}"
    wb.save(path)
    _add_inline_and_cached(path)


def _add_inline_and_cached(path: Path) -> None:
    """openpyxl writes neither inline strings nor cached results: add one of each by hand."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    inline = f'<c r="A8" t="inlineStr"><is><t>{CUSTOMER} inline</t></is></c>'
    cached = f'<c r="B8" t="str"><f>"Kes"&amp;"trel"&amp;" Dynamics GmbH"</f><v>{CUSTOMER}</v></c>'
    sheet = sheet.replace("</sheetData>", f'<row r="8">{inline}{cached}</row></sheetData>')
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def _html_table(path: Path) -> None:
    rows = [
        ("Customer", "Item", "Quantity"),
        (CUSTOMER, "turbine", "4"),
        (CUSTOMER_CN, "magnet", "7"),
        ("Other Ltd", SECRET, "9"),
    ]
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    path.write_text(
        f'<html><head><meta charset="utf-8"><title>{CUSTOMER}</title></head>'
        f"<body><table>{body}</table></body></html>",
        encoding="utf-8",
    )


def _csv_table(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Customer", "Part", "Account", "Quantity"])
        writer.writerow([CUSTOMER, PART, ACCOUNT, 4])
        writer.writerow(["Other Ltd", "X-1", 1234, 2])


def build(directory: Path) -> dict[str, Path]:
    """Every workbook of the corpus: name -> path (all written below ``directory``)."""
    directory.mkdir(parents=True, exist_ok=True)
    src = directory / "src"
    src.mkdir(exist_ok=True)
    everything = directory / "openpyxl_everything.xlsx"
    _everything(everything)
    html = src / "lo_html.html"
    _html_table(html)
    table = src / "lo_csv.csv"
    _csv_table(table)
    resaved_src = src / "lo_resaved.xlsx"
    shutil.copy(everything, resaved_src)
    lo_dir = directory / "lo"
    outs = convert([resaved_src, table], lo_dir, "xlsx:Calc MS Excel 2007 XML")
    # HTML opens in Writer unless Calc's HTML filter is named.
    html_out = convert(
        [html], directory / "lo_html", "xlsx:Calc MS Excel 2007 XML", infilter="HTML (StarCalc)"
    )
    return {
        "openpyxl_everything": everything,
        "lo_resaved": outs[0],
        "lo_csv": outs[1],
        "lo_html": html_out[0],
    }


def big_workbook(path: Path, rows: int = 50_000) -> None:
    """A plain, large workbook for the benchmark: repeated and unique texts, numbers, a customer."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Lines")
    ws.append(["Line", "Customer", "Item", "Quantity", "Price", "Note"])
    items = ("turbine", "gearbox", "rotor", "magnet", "housing")
    for i in range(rows):
        customer = CUSTOMER if i % 97 == 0 else f"Client {i % 500}"
        ws.append([i, customer, items[i % 5], i % 13, round(i * 1.25, 2), f"order {i} for Bremen"])
    wb.save(path)
