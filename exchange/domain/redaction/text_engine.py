"""The plain-text and CSV engine: text in, the same text with spans replaced out.

Invariants:

* See :mod:`exchange.domain.redaction.text` for whole-span replacement,
  fixed-width boxes, folded verification and the encoding rule. The output is
  written in the input's encoding with the input's byte-order mark; a
  replacement the encoding cannot hold withholds the file (never a lossy
  ``errors="replace"``). Encodings without a solid box character (Latin-1,
  Windows-1252) get :data:`~exchange.domain.redaction.text.ASCII_BOX`.
* CSV mode is decided by content alone (engines never see names): the
  sample parses with one dialect into at least two rows that all have the
  same number of fields, at least two. In CSV mode detection reads the whole
  table once as one text (cells joined by tabs, rows by line breaks), so a
  value split across neighbouring cells is found; each span is cut back to
  the cells it covers and every changed row is re-serialised by the csv
  writer, which re-quotes a replacement that holds the delimiter or quote.
  Unchanged rows keep their bytes. The output has the same rows and fields.
* Verification decodes the written bytes with the same encoding and looks
  for every sensitive value in the raw text, in every parsed cell and in
  every row with its cells joined, so neither quoting (``Kes""trel``) nor
  a cell boundary hides a value; and in the text's alternate readings
  (HTML entities, percent-encoding, formula concatenation, UTF-8 inside a
  Windows-1252 file), which the detector read too: a value that only those
  show is withheld, not shared. SVG and base64 payloads are refused.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    count_types,
    new_report,
    withheld,
)
from exchange.domain.redaction.text import (
    TextEncoding,
    alternate_readings,
    detect_encoding,
    find_leaks,
    redact_text,
    refuse_unreadable,
)

TEXT = "text/plain"
CSV = "text/csv"

_DELIMITERS = ",;\t|"
#: Cells are joined by a tab and rows by a line break for detection: both are
#: whitespace, so a term split over neighbouring cells still matches.
_CELL_JOIN = "\t"
_ROW_JOIN = "\n"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
#: How much of the text the dialect sniffer sees (the consistency check reads it all).
_SNIFF_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """A table's dialect, the raw text of every record, and its cells."""

    dialect: type[csv.Dialect]
    records: list[str]
    rows: list[list[str]]


@dataclass(slots=True)
class TextDocument(SourceDocument):
    encoding: TextEncoding = field(default_factory=lambda: TextEncoding("utf-8"))
    text: str = ""
    layout: CsvLayout | None = None
    #: (start, end) of every cell in the detection text, per row
    cell_spans: list[list[tuple[int, int]]] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    return max((crlf, "\r\n"), (lf, "\n"), (cr, "\r"))[1] if crlf or lf or cr else "\r\n"


def _parse(text: str, dialect: type[csv.Dialect] | csv.Dialect) -> tuple[list[str], list[list[str]]] | None:
    """Records (raw text) and rows, or None when the text does not parse as one table."""
    lines = _lines(text)
    taken = 0

    def feed() -> Iterator[str]:
        nonlocal taken
        for line in lines:
            taken += 1
            yield line

    records: list[str] = []
    rows: list[list[str]] = []
    reader = csv.reader(feed(), dialect)
    consumed = 0
    try:
        for row in reader:
            records.append("".join(lines[consumed:taken]))
            consumed = taken
            rows.append(row)
    except csv.Error:
        return None
    if consumed != len(lines) or "".join(records) != text:
        return None
    return records, rows


def _consistent(rows: Sequence[Sequence[str]]) -> bool:
    widths = {len(row) for row in rows if row}
    return len(rows) >= 2 and len(widths) == 1 and widths.pop() >= 2 and all(rows)


def _dialect_for(delimiter: str, quotechar: str, doublequote: bool, terminator: str) -> type[csv.Dialect]:
    class Detected(csv.Dialect):
        pass

    Detected.delimiter = delimiter
    Detected.quotechar = quotechar
    Detected.doublequote = doublequote
    Detected.skipinitialspace = False
    Detected.lineterminator = terminator
    Detected.quoting = csv.QUOTE_MINIMAL
    Detected.strict = True
    return Detected


def detect_table(text: str) -> CsvLayout | None:
    """The table in ``text`` when it is CSV by the module's rule, else None.

    ``csv.Sniffer`` proposes a dialect; a proposal counts only when the whole
    text parses strictly with it and every row has the same number of fields.
    When the sniffer proposes nothing that holds, the usual delimiters are
    tried in order with double quotes.
    """
    body = text
    if not body.strip() or (_CELL_JOIN not in body and not any(d in body for d in _DELIMITERS)):
        return None
    terminator = _line_ending(body)
    proposals: list[tuple[str, str, bool]] = []
    try:
        sniffed = csv.Sniffer().sniff(body[:_SNIFF_CHARS], delimiters=_DELIMITERS)
        # The sniffer's doublequote guess is unreliable and the writer needs it to re-quote.
        proposals.append((sniffed.delimiter, sniffed.quotechar or '"', True))
    except csv.Error:
        pass
    proposals.extend((d, '"', True) for d in _DELIMITERS)
    for delimiter, quotechar, doublequote in dict.fromkeys(proposals):
        dialect = _dialect_for(delimiter, quotechar, doublequote, terminator)
        parsed = _parse(body, dialect)
        if parsed is not None and _consistent(parsed[1]):
            return CsvLayout(dialect, parsed[0], parsed[1])
    return None


def _detection_text(rows: Sequence[Sequence[str]]) -> tuple[str, list[list[tuple[int, int]]]]:
    parts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    pos = 0
    for r, row in enumerate(rows):
        if r:
            parts.append(_ROW_JOIN)
            pos += len(_ROW_JOIN)
        row_spans = []
        for c, cell in enumerate(row):
            if c:
                parts.append(_CELL_JOIN)
                pos += len(_CELL_JOIN)
            parts.append(cell)
            row_spans.append((pos, pos + len(cell)))
            pos += len(cell)
        spans.append(row_spans)
    return "".join(parts), spans


def _cell_redactions(
    spans: Sequence[Redaction], cells: Sequence[tuple[int, int]]
) -> dict[int, list[Redaction]]:
    """Spans of one row cut back to each cell they touch, with offsets into that cell."""
    out: dict[int, list[Redaction]] = {}
    for index, (start, end) in enumerate(cells):
        for red in spans:
            lo, hi = max(red.start, start), min(red.end, end)
            if lo < hi:
                out.setdefault(index, []).append(
                    Redaction(lo - start, hi - start, red.entity_type, red.replacement)
                )
    return out


def _serialise(row: Sequence[str], dialect: type[csv.Dialect], raw: str) -> str:
    buffer = io.StringIO()
    # The writer quotes a field holding a line break only when the break is part of its
    # terminator, so it writes with "\r\n"; that terminator is then swapped for the
    # record's own ending (none on a last line without one).
    csv.writer(buffer, dialect, lineterminator="\r\n").writerow(row)
    ending = raw[len(raw.rstrip("\r\n")) :]
    return buffer.getvalue()[:-2] + ending


class TextEngine:
    format = "text"
    media_types = (TEXT, CSV)

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        decoded = None
        # A multi-byte character cut at the end of the sample is fine.
        for cut in range(4):
            try:
                decoded = detect_encoding(head[: len(head) - cut] if cut else head)
                break
            except UnsupportedFile:
                continue
        if decoded is None:
            return None
        text = decoded.text
        if len(head) >= 8192:
            # Only whole lines of a truncated sample can be judged as table rows.
            last = max(text.rfind("\n"), text.rfind("\r"))
            text = text[: last + 1] if last > 0 else text
        return CSV if detect_table(text) is not None else TEXT

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        try:
            if source.stat().st_size > limits.max_input_bytes:
                raise UnsupportedFile(f"the text is larger than {limits.max_input_bytes // 2**20} MiB")
            data = source.read_bytes()
        except OSError as exc:
            raise UnsupportedFile("the file cannot be read") from exc
        decoded = detect_encoding(data)
        refuse_unreadable(decoded.text)
        # Read by the detector, never redacted in place: see text.alternate_readings.
        readings = [
            TextUnit(reading, None, "decoded")
            for reading in alternate_readings(decoded.text, decoded.encoding)
        ]
        layout = detect_table(decoded.text)
        if layout is None:
            return TextDocument(
                source,
                TEXT,
                [TextUnit(decoded.text, None, "text"), *readings],
                facts={"encoding": decoded.encoding.codec, "bom": bool(decoded.encoding.bom)},
                encoding=decoded.encoding,
                text=decoded.text,
            )
        joined, cell_spans = _detection_text(layout.rows)
        # A formula's quotes are doubled in the file; its cells show them single.
        known = {u.text for u in readings}
        readings += [
            TextUnit(reading, None, "decoded")
            for reading in alternate_readings(joined, decoded.encoding)
            if reading not in known
        ]
        return TextDocument(
            source,
            CSV,
            [TextUnit(joined, None, "table"), *readings],
            facts={
                "encoding": decoded.encoding.codec,
                "bom": bool(decoded.encoding.bom),
                "rows": len(layout.rows),
                "columns": len(layout.rows[0]),
            },
            encoding=decoded.encoding,
            text=decoded.text,
            layout=layout,
            cell_spans=cell_spans,
        )

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        if not isinstance(document, TextDocument):
            raise TypeError("TextEngine.redact needs the document its read() returned")
        report = new_report(self.format)
        report["encoding"] = {"codec": document.encoding.codec, "bom": bool(document.encoding.bom)}
        spans = plan.find(document.units[0].text)
        report["counts"] = count_types([s.entity_type for s in spans])
        if document.layout is None:
            redacted = redact_text(document.text, spans, document.encoding.box)
            rows: list[list[str]] = []
        else:
            redacted, rows = self._redact_table(document, spans)
            report["table"] = {"rows": len(rows), "columns": len(rows[0]) if rows else 0}
        try:
            data = document.encoding.encode(redacted)
        except UnicodeEncodeError:
            return withheld(
                report, "a replacement cannot be written in the file's encoding", document.media_type
            )
        leaks, checks, problem = self._verify(data, document, plan)
        report["verification"] = {
            "performed": True,
            "passed": not leaks and not problem,
            "checks": checks,
            "leaks": [{"kind": "text", "value_index": plan.sensitive_values.index(v)} for v in leaks],
        }
        if problem:
            return withheld(report, problem, document.media_type, leaks)
        if leaks:
            return withheld(
                report, "verification found redacted content in the output", document.media_type, leaks
            )
        report["ok"] = True
        return RedactionResult(True, data, report, document.media_type)

    @staticmethod
    def _redact_table(document: TextDocument, spans: Sequence[Redaction]) -> tuple[str, list[list[str]]]:
        layout = document.layout
        if layout is None:
            raise TypeError("not a table")
        box = document.encoding.box
        out: list[str] = []
        rows: list[list[str]] = []
        # Spans by start, with the running maximum of their ends: each row finds the spans
        # touching it by bisection instead of scanning them all (rows x spans was quadratic).
        order = sorted(range(len(spans)), key=lambda i: spans[i].start)
        starts = [spans[i].start for i in order]
        reach = list(itertools.accumulate((spans[i].end for i in order), max))
        for raw, row, cells in zip(layout.records, layout.rows, document.cell_spans, strict=True):
            lo, hi = (cells[0][0], cells[-1][1]) if cells else (0, 0)
            first, last = bisect.bisect_right(reach, lo), bisect.bisect_left(starts, hi)
            near = sorted(i for i in order[first:last] if spans[i].end > lo)
            touching = [spans[i] for i in near]
            per_cell = _cell_redactions(touching, cells) if touching else {}
            if not per_cell:
                out.append(raw)
                rows.append(row)
                continue
            new_row = [
                redact_text(cell, per_cell[i], box) if i in per_cell else cell for i, cell in enumerate(row)
            ]
            out.append(_serialise(new_row, layout.dialect, raw))
            rows.append(new_row)
        return "".join(out), rows

    @staticmethod
    def _verify(data: bytes, document: TextDocument, plan: RecipientPlan) -> tuple[list[str], list[str], str]:
        """(leaked values, checks run, a problem that withholds the output or "")."""
        try:
            text = document.encoding.decode(data)
        except UnicodeDecodeError:
            return [], ["decode"], "the output does not decode in the input's encoding"
        values = plan.sensitive_values
        leaks = find_leaks(text, values)
        checks = ["decode", "folded_text", "alternate_readings"]
        for reading in alternate_readings(text, document.encoding):
            leaks += [value for value in find_leaks(reading, values) if value not in leaks]
        if document.layout is not None:
            checks += ["cells", "joined_rows", "table_shape"]
            parsed = _parse(text, document.layout.dialect)
            if parsed is None or [len(r) for r in parsed[1]] != [len(r) for r in document.layout.rows]:
                return leaks, checks, "the redacted table does not have the input's rows and columns"
            cells = "\n".join(cell for row in parsed[1] for cell in row)
            joined = "\n".join(" ".join(row) for row in parsed[1])
            views = [cells, joined, *alternate_readings(cells, document.encoding)]
            for value in [v for view in views for v in find_leaks(view, values)]:
                if value not in leaks:
                    leaks.append(value)
        return leaks, checks, ""
