"""The PPTX engine: PowerPoint decks through the shared OOXML flow.

Slides, speaker notes, slide masters and layouts, the handout and notes
masters, comments, charts, SmartArt and tables are all DrawingML or
PresentationML XML parts and are redacted alike by
:mod:`~exchange.domain.redaction.office.runs` (``a:p`` runs, legacy comment
text, alt text and shape and slide names); verification reads every part
again.

PowerPoint-specific clean-up before detection (recipient-independent):
comment authors (legacy ``p:cmAuthor`` and modern ``authors.xml``) get fixed
names, initials and ids; author ids in comments stay valid.

Threat assumptions: as :mod:`~exchange.domain.redaction.office.package`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.domain.redaction.base import TextUnit
from exchange.domain.redaction.office import runs
from exchange.domain.redaction.office.package import OfficeEngine, OfficePackage

if TYPE_CHECKING:
    from exchange.domain.detection.planner import RecipientPlan

PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

#: attributes of comment authors (legacy p:cmAuthor, modern p188:author) and their fixed values
_AUTHOR_FIELDS = {"name": "Author", "initials": "A", "userId": "Author", "providerId": "None"}
_AUTHOR_ELEMENTS = frozenset({"cmAuthor", "author"})
_AUTHORS = runs.tag_pattern(_AUTHOR_ELEMENTS)


class PptxEngine(OfficeEngine):
    format = "pptx"
    kind = "pptx"
    media_type = PPTX
    label = "a PowerPoint deck (PPTX)"

    def prepare(self, package: OfficePackage) -> dict[str, int]:
        changed = 0
        for name in runs.text_parts(package):
            if not runs.part_may_match(package, name, _AUTHORS):
                continue
            root = package.read_xml(name)
            n = runs.anonymise(root, _AUTHOR_FIELDS, _AUTHOR_ELEMENTS)
            if n:
                package.write_xml(name, root)
                changed += n
        return {"authors_anonymised": changed} if changed else {}

    def units(self, package: OfficePackage) -> list[TextUnit]:
        return runs.units(package)

    def apply(self, package: OfficePackage, plan: RecipientPlan) -> list[str]:
        found, _links = runs.redact_package(package, plan)
        return found
