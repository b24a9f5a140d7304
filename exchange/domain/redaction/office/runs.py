"""Run-level text redaction for WordprocessingML and DrawingML, shared by the Office engines.

A paragraph's visible text is split over runs (``w:r/w:t``, ``a:r/a:t``)
that each carry their own formatting; a name may start in a bold run and end
in a plain one. We read each paragraph as one text (a :class:`Block`), ask
the plan about it once, and cut the matched characters out of whichever runs
hold them. The replacement (a label such as ``[CUSTOMER-1]`` or the fixed
box) goes into the first run the span touches, so it takes that run's
formatting; the other runs keep theirs and lose only the matched characters.

Invariants:

* ``units`` and ``redact_root`` see the same blocks in the same order, so
  every text ``redact_root`` asks the plan about was scanned in the batch.
* Field codes (``w:instrText``) of a paragraph form their own block: they are
  never shown but hold URLs and addresses. Separators (tabs, breaks) count as
  one character of the block's text and are never edited.
* Attribute values that people read or that hold names (alt text, shape and
  slide names, tooltips, simple field instructions, WordArt strings, content
  control titles) are redacted as whole strings.
* External hyperlink targets the plan finds anything in lose their
  relationship; the link's display text stays and is redacted like any text.
* A part whose bytes hold no start tag of a text element or an owner of a
  text attribute, and no text attribute (:func:`may_hold_text`), has no block
  and no attribute to read: it is not parsed for them. Such parts (styles,
  themes, font tables) are most of a short document's XML; verification
  still reads them whole.
* Nothing here decides what is safe: the engine verifies the written package.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus

from lxml import etree

from exchange.domain.detection.findings import Redaction, merge_redactions
from exchange.domain.redaction.base import TextUnit
from exchange.domain.redaction.office import header_footer
from exchange.domain.redaction.office.package import (
    A_NS,
    C_NS,
    P_NS,
    W_NS,
    OfficePackage,
    is_xml_part,
    local,
)
from exchange.domain.redaction.text import BOX, redact_text

if TYPE_CHECKING:
    from exchange.domain.detection.planner import RecipientPlan

Find = Callable[[str], Sequence[Redaction]]

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_W_T, _W_INSTR, _W_DELTEXT = f"{{{W_NS}}}t", f"{{{W_NS}}}instrText", f"{{{W_NS}}}delText"
_A_T = f"{{{A_NS}}}t"
#: an equation's text (OMML), read with the paragraph it stands in
_M_T = "{http://schemas.openxmlformats.org/officeDocument/2006/math}t"
_PARAGRAPHS = frozenset({f"{{{W_NS}}}p", f"{{{A_NS}}}p"})
#: text that belongs to no paragraph: chart caches and formulas, legacy PowerPoint comments
_STANDALONE = (f"{{{C_NS}}}v", f"{{{C_NS}}}f", f"{{{P_NS}}}text")
#: separators inside a paragraph, with the text they stand for; only as a run's (or paragraph's) child
_SEPARATORS = {
    f"{{{W_NS}}}tab": "\t",
    f"{{{W_NS}}}br": "\n",
    f"{{{W_NS}}}cr": "\n",
    f"{{{A_NS}}}br": "\n",
}
_SEPARATOR_PARENTS = frozenset({f"{{{W_NS}}}r", f"{{{A_NS}}}p"})
_TEXT_TAGS = (_W_T, _W_INSTR, _W_DELTEXT, _A_T, _M_T, *_STANDALONE, *_SEPARATORS)
#: a chart's print header and footer: codes and text in one string (see header_footer)
_CHART_HEADERS = tuple(f"{{{C_NS}}}{n}" for n in sorted(header_footer.HEADER_FOOTER))
#: attribute local name -> element local names it is redacted on (empty: on any element)
TEXT_ATTRIBUTES: dict[str, frozenset[str]] = {
    "descr": frozenset(),
    "title": frozenset(),
    "tooltip": frozenset(),
    "instr": frozenset(),
    "alt": frozenset(),
    "string": frozenset({"textpath"}),
    "name": frozenset({"cNvPr", "docPr", "cSld", "section", "custShow", "sldLayout", "tag"}),
    "val": frozenset({"alias", "tag"}),
}


def tag_pattern(elements: Iterable[str], attributes: Iterable[str] = ()) -> re.Pattern[bytes]:
    """Bytes of a start tag with one of these local names, or of one of these attributes, any prefix."""
    alternatives = []
    if elements:
        names = b"|".join(re.escape(n.encode()) for n in sorted(set(elements)))
        alternatives.append(rb"<(?:[^\s<>/:=!?]+:)?(?:" + names + rb")[\s/>]")
    if attributes:
        names = b"|".join(re.escape(n.encode()) for n in sorted(set(attributes)))
        alternatives.append(rb"\s(?:[^\s<>/:=]+:)?(?:" + names + rb")\s*=")
    return re.compile(b"|".join(alternatives))


_DECLARED_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


def part_may_match(package: OfficePackage, name: str, pattern: re.Pattern[bytes]) -> bool:
    """False only when the part is in memory, UTF-8, and its bytes hold nothing ``pattern`` matches.

    Tag and attribute names are written out in a UTF-8 part (no entity or
    character reference can stand for them), so a part without a match has
    no such element or attribute. Any other case answers True: parse it.
    """
    if package.is_streamed(name):
        return True
    data = package.read_bytes(name)
    head = data[:256]
    if b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    declared = _DECLARED_ENCODING.match(head)
    if declared is not None and declared.group(1).lower().replace(b"-", b"").replace(b"_", b"") != b"utf8":
        return True
    return pattern.search(data) is not None


@dataclass(slots=True)
class Segment:
    element: etree._Element
    start: int
    end: int
    editable: bool


@dataclass(slots=True)
class Block:
    """One text the plan is asked about: a paragraph's runs, its field codes, or one standalone value."""

    segments: list[Segment] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    length: int = 0

    def add(self, element: etree._Element, text: str, editable: bool) -> None:
        self.segments.append(Segment(element, self.length, self.length + len(text), editable))
        self.parts.append(text)
        self.length += len(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _paragraph_of(element: etree._Element) -> etree._Element | None:
    node = element.getparent()
    while node is not None:
        if node.tag in _PARAGRAPHS:
            return node
        node = node.getparent()
    return None


def blocks(root: etree._Element) -> list[Block]:
    """The blocks of one XML part, in document order of their first text."""
    by_key: dict[tuple[int, str], Block] = {}
    out: list[Block] = []
    for element in root.iter(*_TEXT_TAGS):
        tag = element.tag
        if tag in _SEPARATORS:
            parent = element.getparent()
            if parent is None or parent.tag not in _SEPARATOR_PARENTS:
                continue
            text, editable = _SEPARATORS[tag], False
        else:
            text, editable = element.text or "", True
        if tag in _STANDALONE:
            block = Block()
            block.add(element, text, editable)
            out.append(block)
            continue
        paragraph = _paragraph_of(element)
        if paragraph is None:
            if not text:
                continue
            block = Block()
            block.add(element, text, editable)
            out.append(block)
            continue
        group = "instr" if tag == _W_INSTR else "deleted" if tag == _W_DELTEXT else "text"
        key = (id(paragraph), group)
        block_or_none = by_key.get(key)
        if block_or_none is None:
            block_or_none = by_key[key] = Block()
            out.append(block_or_none)
        block_or_none.add(element, text, editable)
    return [b for b in out if b.text.strip()]


def redact_block(block: Block, spans: Sequence[Redaction]) -> int:
    """Cut ``spans`` out of the block's runs; the number of spans applied."""
    edits: dict[int, list[tuple[int, int, str]]] = {}
    applied = 0
    for red in merge_redactions(spans):
        replacement = red.replacement or BOX
        placed = False
        for index, seg in enumerate(block.segments):
            if not seg.editable or seg.end <= red.start or seg.start >= red.end:
                continue
            lo, hi = max(red.start, seg.start) - seg.start, min(red.end, seg.end) - seg.start
            edits.setdefault(index, []).append((lo, hi, "" if placed else replacement))
            placed = True
        applied += placed
    for index, cuts in edits.items():
        element = block.segments[index].element
        text = element.text or ""
        for lo, hi, insert in sorted(cuts, reverse=True):
            text = text[:lo] + insert + text[hi:]
        element.text = text
        if element.tag in (_W_T, _W_INSTR, _W_DELTEXT, _M_T):
            # Word drops leading and trailing spaces of a w:t without it.
            element.set(XML_SPACE, "preserve")
    return applied


def _attribute_path(names: Iterable[str]) -> etree.XPath:
    # XPath walks the tree in C; a Python loop over every element was most of the reading time.
    test = " or ".join(f"local-name()='{n}'" for n in sorted(names))
    return etree.XPath(f"//@*[{test}]")


#: attribute (Clark) name -> its owners in TEXT_ATTRIBUTES, or None for an attribute that is no text
_OWNERS_BY_NAME: dict[str, frozenset[str] | None] = {}


def _owners(attr: str) -> frozenset[str] | None:
    owners = TEXT_ATTRIBUTES.get(attr.rpartition("}")[2])
    if len(_OWNERS_BY_NAME) < 4096:
        _OWNERS_BY_NAME[attr] = owners
    return owners


def attribute_values(root: etree._Element) -> Iterable[tuple[etree._Element, str, str]]:
    # A loop over elements' attribute names beat XPath's //@*[local-name()=...] several times over:
    # styles carry thousands of w:val attributes, each of which XPath tested by name in turn.
    known = _OWNERS_BY_NAME
    for element in root.iter(etree.Element):
        attrib = element.attrib
        if not attrib:
            continue
        for attr in attrib:
            owners = known[attr] if attr in known else _owners(attr)
            if owners is None or (owners and local(element.tag) not in owners):
                continue
            value = attrib[attr]
            if value.strip():
                yield element, attr, value


#: what :func:`blocks` and :func:`attribute_values` read: text elements, attribute owners, attributes
_TEXT_OR_ATTRIBUTE = tag_pattern(
    [local(t) for t in (*_TEXT_TAGS, *_CHART_HEADERS) if t not in _SEPARATORS]
    + [owner for owners in TEXT_ATTRIBUTES.values() for owner in owners],
    [attr for attr, owners in TEXT_ATTRIBUTES.items() if not owners],
)


def may_hold_text(package: OfficePackage, name: str) -> bool:
    """Whether the part may have a block or a text attribute (see the module docstring)."""
    return part_may_match(package, name, _TEXT_OR_ATTRIBUTE)


def text_parts(package: OfficePackage) -> list[str]:
    """XML parts that may carry document text, in a stable order."""
    return [
        n
        for n in package.parts
        if n != "[Content_Types].xml" and not n.endswith(".rels") and is_xml_part(package, n)
    ]


def _link_texts(target: str) -> list[str]:
    # A query string writes spaces as "+" (mailto:...?subject=Kestrel+Dynamics), a path as "%20".
    return list(dict.fromkeys([target, unquote(target), unquote_plus(target)]))


def units(package: OfficePackage) -> list[TextUnit]:
    """Every text :func:`redact_package` will ask the plan about (see module docstring)."""
    out: list[TextUnit] = []
    for name in text_parts(package):
        if may_hold_text(package, name):
            root = package.read_xml(name)
            out.extend(TextUnit(b.text, None, "text") for b in blocks(root))
            out.extend(TextUnit(value, None, "metadata") for _, _, value in attribute_values(root))
            for element in root.iter(*_CHART_HEADERS):
                out.extend(TextUnit(t, None, "text") for t in header_footer.texts(element.text or ""))
        for rel in package.relationships(name):
            if rel.external:
                out.extend(TextUnit(t, None, "link") for t in _link_texts(rel.target))
    return out


def redact_root(root: etree._Element, find: Find) -> list[str]:
    """Redact every block and text attribute of one XML tree; the entity types removed."""
    found: list[str] = []
    for block in blocks(root):
        spans = find(block.text)
        if spans:
            redact_block(block, spans)
            found.extend(s.entity_type for s in spans)
    for element, attr, value in list(attribute_values(root)):
        spans = find(value)
        if spans:
            element.set(attr, redact_text(value, spans))
            found.extend(s.entity_type for s in spans)
    for element in root.iter(*_CHART_HEADERS):
        new, types = header_footer.redact(element.text or "", find)
        if new is not None:
            element.text = new
            found.extend(types)
    return found


def redact_links(package: OfficePackage, part: str, find: Find) -> tuple[list[str], int]:
    """Remove external relationships of ``part`` whose target the plan finds anything in."""
    found: list[str] = []
    doomed = []
    for rel in package.relationships(part):
        if not rel.external:
            continue
        spans = [s for t in _link_texts(rel.target) for s in find(t)]
        if spans:
            doomed.append(rel.id)
            found.extend(s.entity_type for s in spans[:1])
    return found, package.remove_relationships(part, doomed)


def redact_package(package: OfficePackage, plan: RecipientPlan) -> tuple[list[str], int]:
    """Redact text in every XML part and the links they hold; (entity types, links removed)."""
    found: list[str] = []
    links = 0
    memo: dict[str, Sequence[Redaction]] = {}

    def find(text: str) -> Sequence[Redaction]:
        # The plan memoises detection but re-derives its values per call; one answer per text is enough.
        spans = memo.get(text)
        if spans is None:
            spans = memo[text] = plan.find(text)
        return spans

    for name in text_parts(package):
        if may_hold_text(package, name):
            root = package.read_xml(name)
            types = redact_root(root, find)
            if types:
                package.write_xml(name, root)
                found.extend(types)
        link_types, removed = redact_links(package, name, find)
        found.extend(link_types)
        links += removed
    return found, links


def anonymise(
    root: etree._Element, attributes: dict[str, str], elements: frozenset[str] | None = None
) -> int:
    """Overwrite people attributes (author, initials, ...) with fixed values; the count changed."""
    changed = 0
    for value in _attribute_path(attributes)(root):
        element = value.getparent()
        if elements is not None and local(element.tag) not in elements:
            continue
        fixed = attributes[local(value.attrname)]
        if str(value) != fixed:
            element.set(value.attrname, fixed)
            changed += 1
    return changed
