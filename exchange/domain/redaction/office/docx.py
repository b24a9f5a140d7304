"""The DOCX engine: Word documents through the shared OOXML flow.

Every XML part is treated alike (body, tables, headers, footers, footnotes,
endnotes, comments, text boxes, SmartArt, charts, the glossary document):
paragraph runs, field codes and text attributes are redacted by
:mod:`~exchange.domain.redaction.office.runs`, so no part type is skipped
because nobody thought of it. Verification reads every part again anyway.

Word-specific clean-up before detection (recipient-independent):

* Tracked changes are resolved so the output holds one version of the text:
  deletions and moved-away text (``w:del``, ``w:moveFrom``) are removed,
  insertions and moved-to text accepted, formatting-change history dropped.
  A deleted paragraph mark is kept (the paragraph stays), so the structure
  of the document is unchanged.
* Authors and initials of comments and revisions become fixed values;
  document variables and mail-merge sources (paths, queries) are removed.
* Custom styles get neutral ids (``CustomStyle1``…) in every reference
  (the id is often the name run together: ``KestrelHeading``); their names,
  like the names of building blocks (glossary), are read and redacted as
  text. Built-in styles keep ids and names: Word defines those, and NER
  reads them (``Dark List``) as organisations.
* Imported content (``w:altChunk``: an HTML, RTF or text file Word merges in
  when it opens the document) is removed with its part and reported as a
  warning; it is not read, and nothing unread may stay.
* Bookmark names (and legacy form-field names, which are bookmarks too) are
  identifiers nobody reads but that often carry words (``Kestrel_offer``):
  every one but Word's generated ``_Toc123``/``_Ref123``/``_Hlk123``/``_GoBack``
  becomes a neutral ``_bm1``, ``_bm2``…, consistently in hyperlink anchors and
  field codes (``REF``, ``PAGEREF``, ``HYPERLINK \\l``) of every part, so
  cross-references keep working.

Threat assumptions: as :mod:`~exchange.domain.redaction.office.package`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lxml import etree

from exchange.domain.redaction.base import TextUnit
from exchange.domain.redaction.office import runs
from exchange.domain.redaction.office.package import (
    W_NS,
    OfficeDocument,
    OfficeEngine,
    OfficePackage,
    remove_element,
    unwrap,
)
from exchange.domain.redaction.text import redact_text

if TYPE_CHECKING:
    from pathlib import Path

    from exchange.domain.detection.planner import RecipientPlan
    from exchange.domain.redaction.base import EngineLimits, SourceDocument

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IMPORTED_REMOVED = (
    "imported content removed: the document embeds another file's content (an altChunk of HTML, RTF "
    "or text) that is not read, so it is not in the output"
)

_W = f"{{{W_NS}}}"
#: revision content that is not in the accepted text
_REMOVED = tuple(
    _W + n
    for n in (
        "del",
        "moveFrom",
        "moveFromRangeStart",
        "moveFromRangeEnd",
        "moveToRangeStart",
        "moveToRangeEnd",
        "cellIns",
        "cellDel",
        "cellMerge",
    )
)
#: formatting-change history (it names the reviser and keeps old properties)
_CHANGES = tuple(
    _W + n
    for n in (
        "rPrChange",
        "pPrChange",
        "sectPrChange",
        "tblPrChange",
        "tblPrExChange",
        "trPrChange",
        "tcPrChange",
        "tblGridChange",
        "numberingChange",
    )
)
_ACCEPTED = (_W + "ins", _W + "moveTo")
#: semantic markup around text (smart tags, custom XML elements): the tag's name and properties
#: (w:smartTagPr/w:attr values such as a person's name) go, the text inside stays
_MARKUP = (_W + "smartTag", _W + "customXml")
_MARKUP_PROPERTIES = (_W + "smartTagPr", _W + "customXmlPr")
_SETTINGS_REMOVED = (_W + "docVars", _W + "mailMerge")
#: w:ed: the one user a permission range lets edit
_PEOPLE = {"author": "Author", "initials": "A", "ed": "Author"}
#: names Word generates (headings, cross-references, last edit): no words of the author in them
_GENERATED_BOOKMARK = re.compile(r"_(?:Toc|Ref|Hlk|GoBack)\d*", re.IGNORECASE)
#: element -> its attribute naming a bookmark (a legacy form field's w:name/@w:val is its bookmark's name)
_BOOKMARK_NAMES = {
    _W + "bookmarkStart": _W + "name",
    _W + "name": _W + "val",
    _W + "hyperlink": _W + "anchor",
}
_INSTR_TEXT, _FLD_SIMPLE, _FF_DATA, _INSTR = (_W + n for n in ("instrText", "fldSimple", "ffData", "instr"))
_BOOKMARKED = runs.tag_pattern(["bookmarkStart", "ffData"])
_STYLE, _STYLE_ID, _CUSTOM_STYLE, _NAME, _VAL = (
    _W + n for n in ("style", "styleId", "customStyle", "name", "val")
)
#: elements whose w:val is a style id
_STYLE_REFERENCES = tuple(
    _W + n for n in ("pStyle", "rStyle", "tblStyle", "basedOn", "next", "link", "numStyleLink", "styleLink")
)
_STYLED = runs.tag_pattern([t.rpartition("}")[2] for t in (_STYLE, *_STYLE_REFERENCES)])
#: parents of a w:name whose w:val is the author's words: building blocks and their categories
_NAMED_PARTS = (_W + "docPartPr", _W + "category")
_REFERRING = runs.tag_pattern(["bookmarkStart", "ffData", "hyperlink", "instrText", "fldSimple"])
#: what prepare() edits; a part without any of it (styles, theme, fonts) is not parsed for it
_PREPARED = runs.tag_pattern(
    [t.rpartition("}")[2] for t in (*_REMOVED, *_CHANGES, *_ACCEPTED, *_SETTINGS_REMOVED, *_MARKUP)], _PEOPLE
)


def _named(root: etree._Element, *, anchors: bool) -> Iterator[tuple[etree._Element, str]]:
    """(element, attribute) of every bookmark name, with hyperlink anchors to them if ``anchors``."""
    for element in root.iter(*_BOOKMARK_NAMES):
        if element.tag == _W + "hyperlink" and not anchors:
            continue
        if element.tag == _W + "name":
            parent = element.getparent()
            if parent is None or parent.tag != _FF_DATA:
                continue
        yield element, _BOOKMARK_NAMES[element.tag]


def _on(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "on")


def _author_names(root: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """(w:name, its value) of custom styles, building blocks and their categories."""
    for element in root.iter(_NAME):
        parent = element.getparent()
        value = element.get(_VAL) or ""
        if parent is None or not value.strip():
            continue
        if parent.tag in _NAMED_PARTS or (parent.tag == _STYLE and _on(parent.get(_CUSTOM_STYLE))):
            yield element, value


class DocxEngine(OfficeEngine):
    format = "docx"
    kind = "docx"
    media_type = DOCX
    label = "a Word document (DOCX)"

    def prepare(self, package: OfficePackage) -> dict[str, int]:
        counts = {
            "tracked_deletions_removed": 0,
            "tracked_insertions_accepted": 0,
            "authors_anonymised": 0,
            "imported_content_removed": 0,
            "markup_unwrapped": 0,
        }
        for name in runs.text_parts(package):
            if not runs.part_may_match(package, name, _PREPARED):
                continue
            root = package.read_xml(name)
            changed = 0
            deleted = list(root.iter(*_REMOVED, *_CHANGES))
            for element in deleted:
                if element.tag in _REMOVED:
                    counts["tracked_deletions_removed"] += 1
                remove_element(element)
            inserted = list(root.iter(*_ACCEPTED))
            # Innermost first, so an insertion nested in another is unwrapped into its parent.
            for element in reversed(inserted):
                unwrap(element)
            counts["tracked_insertions_accepted"] += len(inserted)
            for element in list(root.iter(*_MARKUP_PROPERTIES)):
                remove_element(element)
            markup = list(root.iter(*_MARKUP))
            for element in reversed(markup):
                unwrap(element)
            counts["markup_unwrapped"] += len(markup)
            settings = list(root.iter(*_SETTINGS_REMOVED))
            for element in settings:
                counts[f"settings_{element.tag.rpartition('}')[2]}"] = 1
                remove_element(element)
            authors = runs.anonymise(root, _PEOPLE)
            counts["authors_anonymised"] += authors
            changed = len(deleted) + len(inserted) + len(settings) + authors + len(markup)
            if changed:
                package.write_xml(name, root)
        counts["bookmarks_renamed"] = self.neutral_bookmarks(package)
        counts["style_ids_renamed"] = self.neutral_style_ids(package)
        for _owner, rel in list(package.targets("/aFChunk")):
            if rel.part and package.has(rel.part):
                # Its w:altChunk goes with the relationship (drop_references).
                package.remove_part(rel.part)
                counts["imported_content_removed"] += 1
        return {k: v for k, v in counts.items() if v}

    @staticmethod
    def neutral_bookmarks(package: OfficePackage) -> int:
        """Rename bookmarks to neutral ids everywhere they are named (module docstring); the count."""
        parts = [n for n in runs.text_parts(package) if runs.part_may_match(package, n, _REFERRING)]
        names: dict[str, None] = {}
        for name in parts:
            if runs.part_may_match(package, name, _BOOKMARKED):
                for element, attr in _named(package.read_xml(name), anchors=False):
                    value = element.get(attr) or ""
                    if value and not _GENERATED_BOOKMARK.fullmatch(value):
                        names.setdefault(value.casefold())
        if not names:
            return 0
        renames: dict[str, str] = {}
        n = 0
        for old in names:
            n += 1
            while f"_bm{n}" in names:
                n += 1
            renames[old] = f"_bm{n}"
        # Longest first, so a name that begins another is not replaced inside it.
        alternatives = "|".join(re.escape(k) for k in sorted(renames, key=len, reverse=True))
        token = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

        def rename(text: str) -> str:
            return token.sub(lambda m: renames[m.group().casefold()], text)

        for name in parts:
            root = package.read_xml(name)
            changed = False
            for element, attr in _named(root, anchors=True):
                value = element.get(attr) or ""
                if value.casefold() in renames:
                    element.set(attr, renames[value.casefold()])
                    changed = True
            # Field codes name bookmarks as words: REF x, PAGEREF x \h, HYPERLINK \l "x", = x * 2.
            for element in root.iter(_INSTR_TEXT):
                if element.text and (new := rename(element.text)) != element.text:
                    element.text = new
                    changed = True
            for element in root.iter(_FLD_SIMPLE):
                value = element.get(_INSTR) or ""
                if (new := rename(value)) != value:
                    element.set(_INSTR, new)
                    changed = True
            if changed:
                package.write_xml(name, root)
        return len(renames)

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        document = super().read(source, limits)
        if isinstance(document, OfficeDocument) and document.sanitised.get("imported_content_removed"):
            document.warnings.append(IMPORTED_REMOVED)
        return document

    @staticmethod
    def neutral_style_ids(package: OfficePackage) -> int:
        """Give custom styles neutral ids everywhere they are referenced (module docstring); the count."""
        parts = [n for n in runs.text_parts(package) if runs.part_may_match(package, n, _STYLED)]
        renames: dict[str, str] = {}
        for name in parts:
            for style in package.read_xml(name).iter(_STYLE):
                old = style.get(_STYLE_ID)
                if old and _on(style.get(_CUSTOM_STYLE)) and old not in renames:
                    renames[old] = f"CustomStyle{len(renames) + 1}"
        if not renames:
            return 0
        for name in parts:
            root = package.read_xml(name)
            changed = False
            for style in root.iter(_STYLE):
                old = style.get(_STYLE_ID)
                if old in renames:
                    style.set(_STYLE_ID, renames[old])
                    changed = True
            for element in root.iter(*_STYLE_REFERENCES):
                old = element.get(_VAL)
                if old in renames:
                    element.set(_VAL, renames[old])
                    changed = True
            if changed:
                package.write_xml(name, root)
        return len(renames)

    def units(self, package: OfficePackage) -> list[TextUnit]:
        out = runs.units(package)
        for name in runs.text_parts(package):
            if runs.part_may_match(package, name, _STYLED) or "glossary" in name:
                out.extend(
                    TextUnit(value, None, "metadata") for _, value in _author_names(package.read_xml(name))
                )
        return out

    def apply(self, package: OfficePackage, plan: RecipientPlan) -> list[str]:
        found, _links = runs.redact_package(package, plan)
        for name in runs.text_parts(package):
            if not (runs.part_may_match(package, name, _STYLED) or "glossary" in name):
                continue
            root = package.read_xml(name)
            changed = False
            for element, value in _author_names(root):
                spans = plan.find(value)
                if spans:
                    element.set(_VAL, redact_text(value, spans))
                    found.extend(s.entity_type for s in spans)
                    changed = True
            if changed:
                package.write_xml(name, root)
        return found
