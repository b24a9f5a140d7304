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

Threat assumptions: as :mod:`~exchange.domain.redaction.office.package`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.domain.redaction.base import TextUnit
from exchange.domain.redaction.office import runs
from exchange.domain.redaction.office.package import (
    W_NS,
    OfficeEngine,
    OfficePackage,
    remove_element,
    unwrap,
)

if TYPE_CHECKING:
    from exchange.domain.detection.planner import RecipientPlan

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

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
_SETTINGS_REMOVED = (_W + "docVars", _W + "mailMerge")
_PEOPLE = {"author": "Author", "initials": "A"}
#: what prepare() edits; a part without any of it (styles, theme, fonts) is not parsed for it
_PREPARED = runs.tag_pattern(
    [t.rpartition("}")[2] for t in (*_REMOVED, *_CHANGES, *_ACCEPTED, *_SETTINGS_REMOVED)], _PEOPLE
)


class DocxEngine(OfficeEngine):
    format = "docx"
    kind = "docx"
    media_type = DOCX
    label = "a Word document (DOCX)"

    def prepare(self, package: OfficePackage) -> dict[str, int]:
        counts = {"tracked_deletions_removed": 0, "tracked_insertions_accepted": 0, "authors_anonymised": 0}
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
            settings = list(root.iter(*_SETTINGS_REMOVED))
            for element in settings:
                counts[f"settings_{element.tag.rpartition('}')[2]}"] = 1
                remove_element(element)
            authors = runs.anonymise(root, _PEOPLE)
            counts["authors_anonymised"] += authors
            changed = len(deleted) + len(inserted) + len(settings) + authors
            if changed:
                package.write_xml(name, root)
        return {k: v for k, v in counts.items() if v}

    def units(self, package: OfficePackage) -> list[TextUnit]:
        return runs.units(package)

    def apply(self, package: OfficePackage, plan: RecipientPlan) -> list[str]:
        found, _links = runs.redact_package(package, plan)
        return found
