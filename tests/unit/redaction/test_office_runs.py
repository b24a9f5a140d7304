"""Run-level redaction on hand-written WordprocessingML and DrawingML, with a fake plan."""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from exchange.domain.detection.findings import Redaction
from exchange.domain.redaction.office.runs import blocks, redact_block, redact_root
from exchange.domain.redaction.text import BOX

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NAME = "Kestrel Dynamics"


def find(text: str) -> Sequence[Redaction]:
    return [Redaction(m.start(), m.end(), "CUSTOMER", "[CUSTOMER-1]") for m in re.finditer(NAME, text)]


def boxes(text: str) -> Sequence[Redaction]:
    return [Redaction(m.start(), m.end(), "CUSTOMER", None) for m in re.finditer(NAME, text)]


def word(body: str) -> etree._Element:
    return etree.fromstring(f'<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>')


def texts(root: etree._Element) -> list[str | None]:
    return [t.text for t in root.iter(f"{{{W}}}t", f"{{{A}}}t")]


def test_a_name_split_over_runs_keeps_each_runs_formatting() -> None:
    root = word(
        "<w:p><w:r><w:t>Order of </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>Kestrel Dy</w:t></w:r>"
        "<w:r><w:rPr><w:i/></w:rPr><w:t>namics for magnets</w:t></w:r></w:p>"
    )
    (block,) = blocks(root)
    assert block.text == "Order of Kestrel Dynamics for magnets"
    assert redact_block(block, find(block.text)) == 1
    assert texts(root) == ["Order of ", "[CUSTOMER-1]", " for magnets"]
    runs = root.findall(f".//{{{W}}}r")
    assert runs[1].find(f"{{{W}}}rPr/{{{W}}}b") is not None
    assert runs[2].find(f"{{{W}}}rPr/{{{W}}}i") is not None
    assert all(
        t.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
        for t in root.iter(f"{{{W}}}t")
        if t.text != "Order of "
    )


def test_solid_box_is_fixed_width_and_several_spans_in_one_run() -> None:
    root = word(f"<w:p><w:r><w:t>{NAME} and {NAME}</w:t></w:r></w:p>")
    (block,) = blocks(root)
    redact_block(block, boxes(block.text))
    assert texts(root) == [f"{BOX} and {BOX}"]


def test_field_codes_and_nested_text_boxes_are_their_own_blocks() -> None:
    root = word(
        '<w:p><w:r><w:instrText> HYPERLINK "https://x.example/Kestrel Dynamics" </w:instrText></w:r>'
        "<w:r><w:t>Visit</w:t></w:r><w:r><w:tab/><w:t>us</w:t></w:r>"
        "<w:r><w:pict><w:txbxContent><w:p><w:r><w:t>Box Kestrel Dynamics</w:t></w:r></w:p></w:txbxContent>"
        "</w:pict></w:r></w:p>"
        '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>x</w:t></w:r></w:p>'
    )
    found = sorted(b.text for b in blocks(root))
    assert found == [
        ' HYPERLINK "https://x.example/Kestrel Dynamics" ',
        "Box Kestrel Dynamics",
        "Visit\tus",
        "x",
    ]
    types = redact_root(root, find)
    assert types == ["CUSTOMER", "CUSTOMER"]
    assert NAME not in etree.tostring(root, encoding="unicode")


def test_drawingml_paragraphs_and_text_attributes() -> None:
    root = etree.fromstring(
        f'<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="{A}">'
        f'<p:cSld name="About {NAME}"><p:spTree><p:sp><p:nvSpPr><p:cNvPr id="2" name="Title" '
        f'descr="Photo of {NAME}"/></p:nvSpPr><p:txBody><a:p><a:r><a:t>Kestrel</a:t></a:r><a:br/>'
        "<a:r><a:t>Dynamics</a:t></a:r></a:p><a:p><a:r><a:t>Kestrel </a:t></a:r>"
        "<a:r><a:t>Dynamics</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    )
    # A line break separates words on screen: "Kestrel\nDynamics" is a block of its own.
    assert [b.text for b in blocks(root)] == ["Kestrel\nDynamics", "Kestrel Dynamics"]
    redact_root(root, find)
    serialised = etree.tostring(root, encoding="unicode")
    assert 'name="About [CUSTOMER-1]"' in serialised
    assert 'descr="Photo of [CUSTOMER-1]"' in serialised
    assert texts(root)[-2:] == ["[CUSTOMER-1]", ""]
