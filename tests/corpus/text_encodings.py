"""Text and CSV files in the encodings suppliers and bureaus send, generated here.

Each sample names its encoding, its byte-order mark and, for tables, the
rows it holds, so tests can compare the redacted output with Python's own
``csv`` module and the raw leading bytes. Every sample carries at least one
customer name or part number that must be gone after redaction.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

CUSTOMER = "Kestrel Dynamics GmbH"
CUSTOMER_CN = "宁波瀚海磁电有限公司"
CUSTOMER_UMLAUT = "Müller Magnettechnik AG"
PART = "KD-4471-ZX"
SECRET = "grain boundary diffusion"
#: Values no output may contain, folded or not.
SECRETS = (CUSTOMER, CUSTOMER_CN, CUSTOMER_UMLAUT, PART, SECRET)

POLICY = f"""
version: 1
name: text encodings
terms:
  customers: ["{CUSTOMER}", "{CUSTOMER_CN}", "{CUSTOMER_UMLAUT}"]
  trade_secrets: ["{SECRET}"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}'}}
recipients:
  supplier: {{redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER]}}
  bureau: {{redact: [TRADE_SECRET, PART_NUMBER], style: label}}
"""


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    codec: str
    bom: bytes
    #: csv rows for tables (None for plain text), and the dialect's delimiter
    rows: list[list[str]] | None = None
    delimiter: str = ","
    #: which secrets the sample holds
    holds: tuple[str, ...] = ()


def _table(rows: list[list[str]], delimiter: str, terminator: str, quoting: int = csv.QUOTE_MINIMAL) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting).writerows(rows)
    return buffer.getvalue()


def samples() -> list[Sample]:
    gb_rows = [
        ["客户", "零件号", "备注"],
        [CUSTOMER_CN, PART, "钕铁硼磁体，N52等级"],
        ["上海某公司", "KD-12", "按时交货, 无问题"],
        ["北京", "普通订单", f"{CUSTOMER_CN}的第二批"],
    ]
    u16_rows = [["Kunde", "Teil", "Notiz"], [CUSTOMER, PART, "Lieferung\nim Mai"], ["Oakridge", "X-1", "ok"]]
    bom8_rows = [["customer", "process", "qty"], [CUSTOMER, SECRET, "400"], ["Other Ltd", "sintering", "10"]]
    latin_rows = [
        ["Kunde", "Straße", "Bemerkung"],
        [CUSTOMER_UMLAUT, "Königsallee 1", "Größe: 5 µm; Öl frei"],
        ["Bäckerei Weiß", "Hauptstraße 2", f"Teil {PART}"],
    ]
    quoted_rows = [
        ["id", "customer", "note"],
        ["1", CUSTOMER, 'says "hello", then\r\nleaves'],
        ["2", "Acme; Inc", f'{PART}, "quoted"'],
        ["3", "Kestrel", "Dynamics GmbH"],  # a name split over two cells
    ]
    text_gb = f"致{CUSTOMER_CN}：\r\n贵司订单 {PART} 已发货。\r\n工艺：晶界扩散。\r\n"
    return [
        Sample(
            "orders_gb18030.csv",
            _table(gb_rows, ",", "\r\n").encode("gb18030"),
            "gb18030",
            b"",
            gb_rows,
            ",",
            (CUSTOMER_CN, PART),
        ),
        Sample(
            "orders_utf16.tsv",
            codecs.BOM_UTF16_LE + _table(u16_rows, "\t", "\n").encode("utf-16-le"),
            "utf-16-le",
            codecs.BOM_UTF16_LE,
            u16_rows,
            "\t",
            (CUSTOMER, PART),
        ),
        Sample(
            "orders_utf16be.csv",
            codecs.BOM_UTF16_BE + _table(u16_rows, ";", "\r\n").encode("utf-16-be"),
            "utf-16-be",
            codecs.BOM_UTF16_BE,
            u16_rows,
            ";",
            (CUSTOMER, PART),
        ),
        Sample(
            "process_utf8bom.csv",
            codecs.BOM_UTF8 + _table(bom8_rows, ",", "\r\n", csv.QUOTE_ALL).encode(),
            "utf-8",
            codecs.BOM_UTF8,
            bom8_rows,
            ",",
            (CUSTOMER, SECRET),
        ),
        Sample(
            "kunden_latin1.csv",
            _table(latin_rows, ";", "\n").encode("cp1252"),
            "cp1252",
            b"",
            latin_rows,
            ";",
            (CUSTOMER_UMLAUT, PART),
        ),
        Sample(
            "quoted.csv",
            _table(quoted_rows, ",", "\n").encode(),
            "utf-8",
            b"",
            quoted_rows,
            ",",
            (CUSTOMER, PART),
        ),
        Sample(
            "letter_gb18030.txt", text_gb.encode("gb18030"), "gb18030", b"", None, ",", (CUSTOMER_CN, PART)
        ),
        Sample(
            "letter_latin1.txt",
            f"An {CUSTOMER_UMLAUT}, Düsseldorf\nVerfahren: {SECRET}. Grüße\n".encode("latin-1"),
            "cp1252",
            b"",
            None,
            ",",
            (CUSTOMER_UMLAUT, SECRET),
        ),
        Sample(
            "letter_utf16.txt",
            codecs.BOM_UTF16_BE + f"Dear {CUSTOMER},\nyour part {PART}.\n".encode("utf-16-be"),
            "utf-16-be",
            codecs.BOM_UTF16_BE,
            None,
            ",",
            (CUSTOMER, PART),
        ),
    ]


def write_all(directory: Path) -> dict[str, tuple[Sample, Path]]:
    out = {}
    for sample in samples():
        path = directory / sample.name
        path.write_bytes(sample.data)
        out[sample.name] = (sample, path)
    return out
