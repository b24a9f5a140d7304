"""The XLSX engine: Excel workbooks through the shared OOXML flow, rewritten part by part.

The package's XML is edited directly with lxml; nothing is round-tripped
through a spreadsheet model (openpyxl and friends drop what they do not
model, and what they drop is not verified).

What is read and redacted, per part:

* worksheets, hidden and very hidden ones alike: every cell's displayed value
  (shared and inline strings, numbers in their General display, dates,
  formula results) and every formula. A worksheet is streamed from the
  source ZIP and ``sheetData`` parsed row by row (``iterparse``); rewritten
  rows go to a deflated spool and are freed, so memory does not grow with the
  number of rows; the rest of the sheet (headers and footers, data
  validations, conditional formats, hyperlink texts) is a small tree read
  whole. A sheet in which nothing changed keeps its original bytes;
* shared strings, inline strings and comments as rich text: a name split
  over formatted runs is one text, cut out of the runs that hold it;
* formulas: a string literal the plan finds anything in is redacted inside
  its quotes; a formula the plan finds anything in outside literals, whose
  cached value was redacted (it could compute the value again), or that
  points into an external workbook is replaced by its cached value. Sheet
  names found in a formula are renamed with the sheet instead;
* the workbook: sheet names (renamed to a valid, unique redacted name and
  fixed in every formula and defined name), defined names' text;
* charts and drawings through :mod:`~exchange.domain.redaction.office.runs`
  (DrawingML runs, chart caches ``c:v``, alt text);
* print headers and footers: each section's text, between the codes
  (:mod:`~exchange.domain.redaction.office.header_footer`);
* every other XML part (comments, threaded comments, tables, pivot cache
  definitions, styles' number formats, VML): every text node and every
  attribute value, as whole strings.

Removed before detection (recipient-independent): external workbook links,
data connections and query tables, pivot cache records (the cache is marked
refresh-on-load; its shared items are redacted like any attribute), the
calculation chain (stale once formulas change; Excel rebuilds it); comment
authors and threaded-comment persons get fixed names.

Invariants: ``units`` reads the same texts ``apply`` asks ``plan.find``
about (renamed formulas excepted: the plan scans those when asked); the
output keeps every sheet, row and cell (a redacted number becomes an inline
string); a value split over two cells is not joined up for detection, but
verification (:func:`~exchange.domain.redaction.office.package.verify_package`)
reads neighbouring texts joined and withholds the file if one leaks.

Threat assumptions: as :mod:`~exchange.domain.redaction.office.package`;
the streaming parser has the same settings (no DTD, no entities, no network).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lxml import etree

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import RedactionResult, SourceDocument, TextUnit
from exchange.domain.redaction.office import header_footer, runs
from exchange.domain.redaction.office.package import (
    LAZY_PART_BYTES,
    R_NS,
    DeflatedBuffer,
    OfficeEngine,
    OfficePackage,
    StreamedPart,
    local,
    remove_element,
    serialise_xml,
)
from exchange.domain.redaction.text import redact_text

if TYPE_CHECKING:
    from pathlib import Path

    from exchange.domain.detection.planner import RecipientPlan
    from exchange.domain.redaction.base import EngineLimits

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XDR_NS = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_CHART_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_CDR_NS = "http://schemas.openxmlformats.org/drawingml/2006/chartDrawing"
_DIAGRAM_NS = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_DRAWINGML_ROOTS = (_XDR_NS, _CHART_NS, _CDR_NS, _DIAGRAM_NS)
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

_ROW, _C, _F, _V, _IS, _T = (f"{{{S_NS}}}{n}" for n in ("row", "c", "f", "v", "is", "t"))
#: elements whose text is a formula
_FORMULAS = frozenset({"f", "formula", "formula1", "formula2", "definedName"})
#: rich-text containers read as one text over their runs (rPh phonetic runs stay separate)
_RICH = frozenset({"si", "is", "text"})
#: attributes that are structure, never text (cell references, style and relationship ids)
_STRUCTURAL = frozenset(
    {"r", "s", "t", "ref", "sqref", "spans", "id", "uid", "xfId", "numFmtId", "fontId", "fillId", "borderId"}
)
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_EXTERNAL_REF = re.compile(r"\[\d+\]")
_SHEET_DATA_TAG = f"{{{S_NS}}}sheetData"
_REMOVED_PREFIXES = (
    ("xl/externallinks/", "external_links"),
    ("xl/connections.xml", "connections"),
    ("xl/querytables/", "query_tables"),
    ("xl/pivotcache/pivotcacherecords", "pivot_cache_records"),
    ("xl/calcchain.xml", "calculation_chain"),
)

Find = Callable[[str], Sequence[Redaction]]
Visit = Callable[[str], None]


def _parser_kwargs() -> dict[str, Any]:
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}


def number_display(raw: str) -> str:
    """A number as Excel's General format shows it (integers without a decimal point)."""
    try:
        value = float(raw)
    except ValueError:
        return raw
    if math.isnan(value) or math.isinf(value):
        return raw
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def literal_ranges(formula: str) -> list[tuple[int, int]]:
    """(start, end) of the inside of every string literal of a formula ("" escapes a quote)."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(formula)
    while i < n:
        if formula[i] == '"':
            start = i + 1
            i += 1
            while i < n:
                if formula[i] == '"':
                    if i + 1 < n and formula[i + 1] == '"':
                        i += 2
                        continue
                    break
                i += 1
            out.append((start, i))
        elif formula[i] == "'":
            # A quoted sheet name: skip it, its quotes are not literals.
            i += 1
            while i < n and not (formula[i] == "'" and (i + 1 >= n or formula[i + 1] != "'")):
                i += 2 if formula[i] == "'" else 1
        i += 1
    return out


def _outside_literals(formula: str) -> str:
    kept, cursor = [], 0
    for start, end in literal_ranges(formula):
        kept.append(formula[cursor : max(cursor, start - 1)])
        cursor = end + 1
    kept.append(formula[cursor:])
    return " ".join(kept)


class SheetNames:
    """Sheet renames and how they are applied to formula text."""

    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames
        self._patterns = [
            (re.compile(r"(?<![\w.])" + re.escape(old) + r"(?=!)", re.IGNORECASE), _quoted(new))
            for old, new in renames.items()
            if _bare_ok(old)
        ] + [
            (re.compile(re.escape(_quoted(old)) + r"(?=!)", re.IGNORECASE), _quoted(new))
            for old, new in renames.items()
        ]

    def apply(self, formula: str) -> str:
        for pattern, new in self._patterns:
            formula = pattern.sub(new.replace("\\", "\\\\"), formula)
        return formula


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _bare_ok(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][\w.]*", name))


def valid_sheet_name(redacted: str, taken: set[str]) -> str:
    """A redacted text as a sheet name Excel accepts: no []:*?/\\, at most 31 characters, unique."""
    base = _SHEET_NAME_FORBIDDEN.sub(
        lambda m: "(" if m.group() == "[" else ")" if m.group() == "]" else "_", redacted
    )
    base = base.strip("'").strip() or "Sheet"
    name, n = base[:31], 1
    while name.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
    taken.add(name.casefold())
    return name


def _spans_in(spans: Sequence[Redaction], ranges: Sequence[tuple[int, int]]) -> bool:
    return all(any(lo <= s.start and s.end <= hi for lo, hi in ranges) for s in merge_redactions(spans))


def _safe_spans(spans: Sequence[Redaction]) -> list[Redaction]:
    """Replacements that cannot end a formula's string literal."""
    return [
        Redaction(s.start, s.end, s.entity_type, s.replacement.replace('"', "") if s.replacement else None)
        for s in spans
    ]


# -- rich text -------------------------------------------------------------------


def rich_block(container: etree._Element) -> runs.Block:
    """The runs' text of a shared string, inline string or comment (phonetic runs excluded)."""
    block = runs.Block()
    for element in container.iter(_T):
        parent = element.getparent()
        if parent is not None and local(parent.tag) == "rPh":
            continue
        block.add(element, element.text or "", True)
    return block


def redact_rich(container: etree._Element, find: Find) -> list[str]:
    block = rich_block(container)
    text = block.text
    if not text.strip():
        return []
    spans = find(text)
    if not spans:
        return []
    runs.redact_block(block, spans)
    for segment in block.segments:
        segment.element.set(XML_SPACE, "preserve")
    return [s.entity_type for s in spans]


# -- generic SpreadsheetML parts ------------------------------------------------------


#: answers a Redactor remembers per kind before it starts again; bounds memory on sheets of unique texts
MEMO_LIMIT = 32_768


def _bounded(memo: dict[str, Any]) -> dict[str, Any]:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    return memo


class Redactor:
    """Applies one plan to texts, formulas and attributes, remembering answers per text.

    The memory is bounded (:data:`MEMO_LIMIT`): repeated cells are what it is
    for, and a sheet of unique texts must not hold them all twice.
    """

    def __init__(self, find: Find, sheets: SheetNames) -> None:
        self._plan_find = find
        self._spans: dict[str, Sequence[Redaction]] = {}
        self.sheets = sheets
        self.found: list[str] = []
        self._text: dict[str, str | None] = {}
        self._numbers: dict[str, str | None] = {}

    def find(self, text: str) -> Sequence[Redaction]:
        # Cells repeat; a plan's find costs the same whether or not it finds anything.
        spans = self._spans.get(text)
        if spans is None:
            spans = _bounded(self._spans)[text] = self._plan_find(text)
        return spans

    def text(self, value: str) -> str | None:
        """The redacted text, or None when nothing is found."""
        if value in self._text:
            return self._text[value]
        spans = self.find(value) if value.strip() else []
        out = redact_text(value, spans) if spans else None
        self.found.extend(s.entity_type for s in spans)
        _bounded(self._text)[value] = out
        return out

    def number(self, raw: str) -> str | None:
        """The redacted display of a stored number, or None when nothing is found."""
        try:
            return self._numbers[raw]
        except KeyError:
            out = _bounded(self._numbers)[raw] = self.text(number_display(raw))
            return out

    def rich(self, container: etree._Element) -> bool:
        """Redact a rich-text container (inline string); whether anything was found."""
        if len(container) == 1:
            # Most inline strings are one plain <t>: ask about its text before building a block.
            only = container[0]
            if only.tag == _T and len(only) == 0:
                text = only.text or ""
                if not text.strip() or not self.find(text):
                    return False
        found = redact_rich(container, self.find)
        self.found.extend(found)
        return bool(found)

    def formula(self, formula: str, cached_redacted: bool = False) -> str | None:
        """The formula to keep (renamed and literals redacted), or None to drop it for its value."""
        renamed = self.sheets.apply(formula)
        if cached_redacted or _EXTERNAL_REF.search(_outside_literals(renamed)):
            return None
        spans = self.find(renamed) if renamed.strip() else []
        if not spans:
            return renamed
        self.found.extend(s.entity_type for s in spans)
        if _spans_in(spans, literal_ranges(renamed)):
            return redact_text(renamed, _safe_spans(spans))
        return None


def _in_phonetic(element: etree._Element) -> bool:
    parent = element.getparent()
    return parent is not None and local(parent.tag) == "rPh"


def redact_generic(root: etree._Element, redactor: Redactor) -> bool:
    """Redact every text and attribute of a SpreadsheetML tree; whether anything changed."""
    changed = False
    for element in list(root.iter()):
        name = local(element.tag)
        if not name:
            continue
        if name in _RICH and element.find(f".//{_T}") is not None:
            found = redact_rich(element, redactor.find)
            redactor.found.extend(found)
            changed |= bool(found)
        elif element.text and element.text.strip() and len(element) == 0:
            if element.tag == _T and not _in_phonetic(element) and _has_rich_ancestor(element):
                pass
            elif name in header_footer.HEADER_FOOTER:
                new_value, types = header_footer.redact(element.text, redactor.find)
                if new_value is not None:
                    element.text = new_value
                    redactor.found.extend(types)
                    changed = True
            elif name in _FORMULAS:
                kept = redactor.formula(element.text)
                if kept != element.text:
                    changed = True
                    if kept is None:
                        _drop_formula_element(element, redactor)
                    else:
                        element.text = kept
            else:
                new = redactor.text(element.text)
                if new is not None:
                    element.text = new
                    changed = True
        for attr, value in list(element.attrib.items()):
            if local(attr) in _STRUCTURAL or not value.strip():
                continue
            new = redactor.text(value)
            if new is not None:
                element.set(attr, _attribute_value(name, local(attr), new))
                changed = True
    return changed


def _has_rich_ancestor(element: etree._Element) -> bool:
    node = element.getparent()
    while node is not None:
        if local(node.tag) in _RICH:
            return True
        node = node.getparent()
    return False


def _attribute_value(element: str, attr: str, redacted: str) -> str:
    if attr in ("name", "displayName") and element in ("table", "definedName"):
        # Table and defined names are identifiers: letters, digits, underscores and dots only.
        return "Redacted_" + secrets.token_hex(4)
    return redacted


def _drop_formula_element(element: etree._Element, redactor: Redactor) -> None:
    """A formula outside cells that cannot be kept: names point nowhere, rules go."""
    name = local(element.tag)
    if name == "definedName":
        element.text = "#REF!"
        return
    rule = element.getparent()
    while rule is not None and local(rule.tag) not in ("cfRule", "dataValidation"):
        rule = rule.getparent()
    target = rule if rule is not None else element
    parent = target.getparent()
    if parent is not None:
        parent.remove(target)
        if local(parent.tag) in ("conditionalFormatting", "dataValidations") and len(parent) == 0:
            grand = parent.getparent()
            if grand is not None:
                grand.remove(parent)


# -- worksheets (streamed) ------------------------------------------------------------


def _declarations(nsmap: dict[str | None, str]) -> list[bytes]:
    """The namespace declarations lxml writes for ``nsmap`` (they are in scope where rows go back)."""
    out = []
    for prefix, uri in nsmap.items():
        quoted = uri.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        name = b"xmlns" if prefix is None else b"xmlns:" + prefix.encode()
        out.append(b" " + name + b'="' + quoted.encode() + b'"')
    return out


def cell_texts(cell: etree._Element, shared: Sequence[str]) -> tuple[str | None, str | None]:
    """(displayed value to scan, formula) of one cell; shared strings are scanned in their part."""
    kind = cell.get("t", "n")
    formula = cell.find(_F)
    value = cell.find(_V)
    shown: str | None = None
    if kind == "inlineStr":
        inline = cell.find(_IS)
        shown = rich_block(inline).text if inline is not None else None
    elif kind in ("str", "d") and value is not None:
        shown = value.text
    elif kind == "n" and value is not None and value.text:
        shown = number_display(value.text)
    return shown, (formula.text if formula is not None and formula.text else None)


def _to_inline(cell: etree._Element, text: str) -> None:
    for child in list(cell):
        cell.remove(child)
    cell.set("t", "inlineStr")
    inline = etree.SubElement(cell, _IS)
    t = etree.SubElement(inline, _T)
    t.text = text
    t.set(XML_SPACE, "preserve")


def _stray(element: etree._Element, redactor: Redactor) -> bool:
    """Redact or drop what a row or cell does not normally hold; whether anything changed.

    Text between elements and comments are dropped (no producer writes them
    there); an unexpected element is redacted like any SpreadsheetML, so
    nothing in a row passes unread.
    """
    if not isinstance(element.tag, str):
        remove_element(element)
        return True
    changed = redact_generic(element, redactor)
    if element.tail and element.tail.strip():
        element.tail = None
        changed = True
    return changed


def redact_row(row: etree._Element, redactor: Redactor, dropped_shared: set[str]) -> bool:
    """Redact one worksheet row in place (text after it included); whether it changed."""
    changed = False
    for stray in ("text", "tail"):
        if (getattr(row, stray) or "").strip():
            setattr(row, stray, None)
            changed = True
    for child in list(row):
        if child.tag == _C:
            changed |= redact_cell(child, redactor, dropped_shared)
            if child.tail and child.tail.strip():
                child.tail = None
                changed = True
        else:
            changed |= _stray(child, redactor)
    return changed


def redact_cell(cell: etree._Element, redactor: Redactor, dropped_shared: set[str]) -> bool:
    """Redact one cell's value and formula in place; whether the cell changed."""
    formula = value = inline = None
    changed = False
    # An inline string in a cell of another type is shown by no one, but it is still read.
    inline_type = cell.get("t") == "inlineStr"
    if cell.text and cell.text.strip():
        cell.text = None
        changed = True
    # One pass over the children: find() per child was most of the time spent on a cell.
    for child in list(cell):
        tag = child.tag
        if tag == _V and value is None:
            value = child
        elif tag == _F and formula is None:
            formula = child
        elif tag == _IS and inline is None and inline_type:
            inline = child
        else:
            changed |= _stray(child, redactor)
            continue
        if child.tail and child.tail.strip():
            child.tail = None
            changed = True
    redacted = _redact_cell_value(
        cell, formula, value, inline, redactor=redactor, dropped_shared=dropped_shared
    )
    return redacted or changed


def _redact_cell_value(
    cell: etree._Element,
    formula: etree._Element | None,
    value: etree._Element | None,
    inline: etree._Element | None,
    *,
    redactor: Redactor,
    dropped_shared: set[str],
) -> bool:
    kind = cell.get("t", "n")
    value_redacted = False
    if kind == "inlineStr":
        if inline is not None:
            value_redacted = redactor.rich(inline)
    elif value is not None and kind in ("str", "d", "n"):
        raw = value.text
        if raw:
            new = redactor.number(raw) if kind == "n" else redactor.text(raw)
            if new is not None:
                _to_inline(cell, new)
                return True
    if formula is None:
        return value_redacted
    if formula.get("t") == "shared" and not (formula.text or "").strip():
        if formula.get("si") in dropped_shared or value_redacted:
            _drop_cell_formula(cell, formula)
            return True
        return value_redacted
    kept = redactor.formula(formula.text or "", value_redacted)
    if kept is None:
        if formula.get("t") == "shared" and formula.get("si") is not None:
            dropped_shared.add(formula.get("si") or "")
        _drop_cell_formula(cell, formula)
        return True
    if kept != formula.text:
        formula.text = kept
        return True
    return value_redacted


def _drop_cell_formula(cell: etree._Element, formula: etree._Element) -> None:
    cell.remove(formula)
    if cell.get("t") == "str":
        value = cell.find(_V)
        _to_inline(cell, value.text or "" if value is not None else "")


# -- the engine ------------------------------------------------------------------------


class XlsxEngine(OfficeEngine):
    format = "xlsx"
    kind = "xlsx"
    media_type = XLSX
    label = "an Excel workbook (XLSX)"

    # -- recipient-independent clean-up ----------------------------------------------

    def prepare(self, package: OfficePackage) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in list(package.parts):
            low = name.lower()
            for prefix, kind in _REMOVED_PREFIXES:
                if low.startswith(prefix) and package.has(name) and not low.endswith(".rels"):
                    package.remove_part(name)
                    counts[kind] = counts.get(kind, 0) + 1
        workbook = package.read_xml(package.main_part)
        for element in list(workbook):
            if local(element.tag) == "externalReferences":
                workbook.remove(element)
        package.write_xml(package.main_part, workbook)
        for name in self._parts_with_root(package, "pivotCacheDefinition"):
            root = package.read_xml(name)
            root.attrib.pop(f"{{{R_NS}}}id", None)
            root.set("refreshOnLoad", "1")
            root.set("saveData", "0")
            package.write_xml(name, root)
        for name in self._parts_with_root(package, "table"):
            root = package.read_xml(name)
            if root.attrib.pop("tableType", None) is not None or root.attrib.pop("connectionId", None):
                for element in root.iter():
                    for attr in ("queryTableFieldId", "uniqueName"):
                        element.attrib.pop(attr, None)
                package.write_xml(name, root)
        people = 0
        for name in self._parts_with_root(package, "comments"):
            root = package.read_xml(name)
            for n, author in enumerate(e for e in root.iter() if local(e.tag) == "author"):
                author.text = f"Author {n + 1}"
                people += 1
            package.write_xml(name, root)
        for name in self._parts_with_root(package, "personList"):
            root = package.read_xml(name)
            for n, person in enumerate(e for e in root if local(e.tag) == "person"):
                person.set("displayName", f"Person {n + 1}")
                person.set("userId", f"person-{n + 1}")
                person.set("providerId", "None")
                people += 1
            package.write_xml(name, root)
        if people:
            counts["authors_anonymised"] = people
        return counts

    @staticmethod
    def _parts_with_root(package: OfficePackage, root_name: str) -> list[str]:
        out = []
        for name in package.parts:
            if name.endswith(".rels") or not name.endswith(".xml") or name == "[Content_Types].xml":
                continue
            head = package.head(name, 512)
            match = re.search(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)", head)
            if match is not None and match.group(1).decode() == root_name:
                out.append(name)
        return out

    # -- structure ----------------------------------------------------------------------

    @staticmethod
    def _worksheets(package: OfficePackage) -> frozenset[str]:
        return frozenset(
            r.part
            for r in package.relationships(package.main_part)
            if r.type.endswith("/worksheet") and r.part is not None and package.has(r.part)
        )

    @staticmethod
    def _sheet_elements(package: OfficePackage) -> list[etree._Element]:
        return list(package.read_xml(package.main_part).iter(f"{{{S_NS}}}sheet"))

    # -- reading -----------------------------------------------------------------------

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        document = super().read(source, limits)
        package = getattr(document, "package", None)
        if package is not None:
            states = [e.get("state", "visible") for e in self._sheet_elements(package)]
            document.facts["sheets"] = {
                "count": len(states),
                "hidden": states.count("hidden"),
                "very_hidden": states.count("veryHidden"),
            }
        return document

    def units(self, package: OfficePackage) -> list[TextUnit]:
        """The texts ``apply`` asks about, found by running it with a plan that finds nothing."""
        texts: dict[str, None] = {}

        def collect(text: str) -> Sequence[Redaction]:
            if text.strip():
                texts.setdefault(text)
            return ()

        self._process(package.copy(), collect, write=False)
        return [TextUnit(text, None, "text") for text in texts]

    # -- redacting ---------------------------------------------------------------------

    def apply(self, package: OfficePackage, plan: RecipientPlan) -> list[str]:
        return self._process(package, plan.find, write=True)

    def _process(self, package: OfficePackage, find: Find, write: bool) -> list[str]:
        sheet_parts = self._worksheets(package)
        sheets, renamed_types = self._rename_sheets(package, find, write)
        redactor = Redactor(find, sheets)
        redactor.found.extend(renamed_types)
        for name in runs.text_parts(package):
            if name in sheet_parts:
                self._redact_sheet(package, name, redactor, write)
            else:
                self._redact_part(package, name, redactor, sheets, write)
            # A cell's link (mailto:...?subject=, a portal URL) lives in the part's relationships.
            link_types, _removed = runs.redact_links(package, name, redactor.find)
            redactor.found.extend(link_types)
        return redactor.found

    @staticmethod
    def _redact_part(
        package: OfficePackage, name: str, redactor: Redactor, sheets: SheetNames, write: bool
    ) -> None:
        root = package.read_xml(name)
        if etree.QName(root).namespace in _DRAWINGML_ROOTS:
            for element in root.iter(f"{{{_CHART_NS}}}f"):
                if element.text:
                    element.text = sheets.apply(element.text)
            redactor.found.extend(runs.redact_root(root, redactor.find))
            if write:
                package.write_xml(name, root)
        elif redact_generic(root, redactor) and write:
            package.write_xml(name, root)

    def _rename_sheets(self, package: OfficePackage, find: Find, write: bool) -> tuple[SheetNames, list[str]]:
        workbook = package.read_xml(package.main_part)
        elements = list(workbook.iter(f"{{{S_NS}}}sheet"))
        taken = {(e.get("name") or "").casefold() for e in elements}
        renames: dict[str, str] = {}
        found: list[str] = []
        for element in elements:
            old = element.get("name") or ""
            spans = find(old) if old.strip() else ()
            if not spans:
                continue
            found.extend(s.entity_type for s in spans)
            taken.discard(old.casefold())
            new = valid_sheet_name(redact_text(old, spans), taken)
            renames[old] = new
            element.set("name", new)
        names = SheetNames(renames)
        if not renames or not write:
            return names, found
        for element in workbook.iter(f"{{{S_NS}}}definedName"):
            if element.text:
                element.text = names.apply(element.text)
        package.write_xml(package.main_part, workbook)
        for _owner, rel in list(package.targets("/pivotCacheDefinition")):
            if rel.part and package.has(rel.part):
                root = package.read_xml(rel.part)
                for element in root.iter(f"{{{S_NS}}}worksheetSource"):
                    if element.get("sheet") in renames:
                        element.set("sheet", renames[element.get("sheet") or ""])
                package.write_xml(rel.part, root)
        return names, found

    def _redact_sheet(self, package: OfficePackage, name: str, redactor: Redactor, write: bool) -> None:
        """Redact a worksheet streamed: rows one by one, then the rest of the sheet as a small tree.

        Rows go to a deflated spool as they are done and are freed; a sheet in
        which nothing changed keeps its original bytes.
        """
        rows = DeflatedBuffer() if write else None
        changed = False
        dropped_shared: set[str] = set()
        sheet_data: etree._Element | None = None
        declarations: list[bytes] = []
        with package.reader(name) as reader:
            context = etree.iterparse(reader, events=("end",), tag=_ROW, **_parser_kwargs())
            try:
                for _event, row in context:
                    parent = row.getparent()
                    if parent is None or parent.tag != _SHEET_DATA_TAG:
                        # Not a worksheet row: it stays in the tree and is read with the rest.
                        continue
                    if sheet_data is None:
                        sheet_data, declarations = parent, _declarations(parent.nsmap)
                    elif parent is not sheet_data:
                        raise UnsupportedFile("the Office file has a worksheet with two sheetData elements")
                    changed |= redact_row(row, redactor, dropped_shared)
                    if rows is not None:
                        serialised = etree.tostring(row, encoding="UTF-8", with_tail=True)
                        first = serialised.find(b">")
                        tag = serialised[:first]
                        # The sheet's head declares these already.
                        for declaration in declarations:
                            tag = tag.replace(declaration, b"", 1)
                        rows.write(tag + serialised[first:])
                    row.clear(keep_tail=True)
                    while (previous := row.getprevious()) is not None:
                        # Anything but a row inside sheetData is dropped, which is a change.
                        changed |= previous.tag != _ROW
                        parent.remove(previous)
                root = context.root
            except etree.XMLSyntaxError:
                raise UnsupportedFile("the Office file has malformed XML in a worksheet") from None
        if root.getroottree().docinfo.doctype:
            raise UnsupportedFile(
                "the Office file declares a DTD in a worksheet; such files are not accepted"
            )
        if sheet_data is not None:
            # The last row (done) and whatever is not a row (dropped) leave the tree.
            changed |= any(child.tag != _ROW for child in sheet_data) or bool((sheet_data.text or "").strip())
            for child in list(sheet_data):
                sheet_data.remove(child)
            sheet_data.text = None
        changed |= redact_generic(root, redactor)
        if rows is None or not changed:
            return
        if sheet_data is None:
            package.write_xml(name, root)
            return
        token = secrets.token_hex(8)
        sheet_data.set("xlsxRedactMark", token)
        out = serialise_xml(root)
        marker = re.search(rb'<((?:[\w.-]+:)?)sheetData xlsxRedactMark="' + token.encode() + rb'"\s*/>', out)
        if marker is None:
            raise UnsupportedFile("a worksheet could not be rewritten")
        qname = marker.group(1) + b"sheetData"
        rows.close()
        part = StreamedPart(
            [out[: marker.start()] + b"<" + qname + b">", rows, b"</" + qname + b">" + out[marker.end() :]]
        )
        if part.size <= LAZY_PART_BYTES:
            package.write_bytes(name, b"".join(part.chunks()))
        else:
            package.write_streamed(name, part)

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        result = super().redact(document, plan)
        result.report["sheets"] = dict(document.facts.get("sheets", {}))
        return result
