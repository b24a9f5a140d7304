"""Office files with the customer where a producer puts it and a reader rarely looks.

Each input is built at test time (python-docx, openpyxl, python-pptx, raw part
edits, LibreOffice from HTML) with the name in one trick place: a bookmark and
the cross-references to it, a sheet's print header, a cell's mailto link, an
imported HTML chunk, an equation, a building block, a custom style, smart tags,
presentation tags. Every output is checked without our code: unzipped and every
part (and part name) searched raw, and LibreOffice's text conversion of it.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.policy import Policy
from exchange.domain.redaction.base import RedactionResult
from exchange.domain.redaction.office.docx import IMPORTED_REMOVED, DocxEngine
from exchange.domain.redaction.office.package import OfficeEngine
from exchange.domain.redaction.office.pptx import PptxEngine
from exchange.domain.redaction.office.xlsx import XlsxEngine
from exchange.domain.redaction.text import BOX
from tests.corpus import office as corpus
from tests.integration.office.conftest import assert_no_customer, redact, soffice_text

pytestmark = pytest.mark.slow

N = corpus.CUSTOMER
W_NS = corpus.W
MATH = "http://schemas.openxmlformats.org/officeDocument/2006/math"


def _body(xml: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        assert b"<w:body>" in data
        return data.replace(b"<w:body>", b"<w:body>" + xml.encode(), 1)

    return edit


def _before(marker: str, xml: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        assert marker.encode() in data, marker
        return data.replace(marker.encode(), xml.encode() + marker.encode(), 1)

    return edit


def _chain(*edits: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        for step in edits:
            data = step(data)
        return data

    return edit


@pytest.fixture(scope="module")
def base_docx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tricks") / "base.docx"
    document = docx.Document()
    document.add_paragraph(f"{corpus.KEPT} order for the turbine line")
    document.save(str(path))
    return path


def _docx(base: Path, name: str, edits: dict[str, bytes | Callable[[bytes], bytes]]) -> Path:
    return corpus.rewrite_zip(base, edits, out=base.parent / name)


def _redacted(
    engine: OfficeEngine, path: Path, detector: Detector, policy: Policy, recipient: str = "supplier"
) -> RedactionResult:
    return redact(engine, path, detector, policy, (recipient,))[recipient]


def _shared(result: RedactionResult, path: Path) -> Path:
    assert result.ok, result.report
    assert result.data is not None
    assert_no_customer(result.data)
    path.write_bytes(result.data)
    return path


def _part(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()


# -- DOCX ----------------------------------------------------------------------------------


BOOKMARKED = (
    '<w:p><w:bookmarkStart w:id="7" w:name="Kestrel_Dynamics_GmbH"/><w:r><w:t>Intro</w:t></w:r>'
    '<w:bookmarkEnd w:id="7"/></w:p>'
    '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> REF '
    'Kestrel_Dynamics_GmbH \\h </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
    '<w:r><w:t>Intro</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    '<w:p><w:hyperlink w:anchor="Kestrel_Dynamics_GmbH"><w:r><w:t>back to the intro</w:t></w:r></w:hyperlink>'
    '<w:fldSimple w:instr=" PAGEREF Kestrel_Dynamics_GmbH "><w:r><w:t>1</w:t></w:r></w:fldSimple></w:p>'
    '<w:p><w:bookmarkStart w:id="8" w:name="_Toc123456"/><w:r><w:t>Heading</w:t></w:r>'
    '<w:bookmarkEnd w:id="8"/></w:p>'
)


def test_bookmark_named_after_the_customer_is_renamed_with_its_references(
    base_docx: Path, detector: Detector, policy: Policy
) -> None:
    path = _docx(base_docx, "bookmark.docx", {"word/document.xml": _body(BOOKMARKED)})
    result = _redacted(DocxEngine(), path, detector, policy)
    _shared(result, path.with_name("bookmark-out.docx"))
    assert result.data is not None
    xml = _part(result.data, "word/document.xml")
    names = re.findall(r'w:bookmarkStart w:id="\d+" w:name="([^"]+)"', xml)
    assert len(names) == 2
    assert "_Toc123456" in names, "Word's generated names stay"
    (neutral,) = [n for n in names if n != "_Toc123456"]
    # Every reference follows the bookmark, so the cross-references still resolve.
    assert f'w:anchor="{neutral}"' in xml
    assert f"REF {neutral} \\h" in xml
    assert f'w:instr=" PAGEREF {neutral} "' in xml
    assert result.report["sanitised"]["bookmarks_renamed"] == 1


def test_bookmarks_of_a_libreoffice_document_from_html(
    tmp_path_factory: pytest.TempPathFactory, detector: Detector, policy: Policy
) -> None:
    directory = tmp_path_factory.mktemp("lo_html")
    html = directory / "page.html"
    html.write_text(
        '<html><body><p><a name="Kestrel_Dynamics_GmbH"></a>Intro for the turbine line</p>'
        '<p>See <a href="#Kestrel_Dynamics_GmbH">the intro</a>.</p>'
        f"<p>Customer: {N}</p></body></html>",
        encoding="utf-8",
    )
    (path,) = corpus.soffice_convert([html], "docx:MS Word 2007 XML", directory / "out")
    assert "Kestrel_Dynamics_GmbH" in _part(path.read_bytes(), "word/document.xml")
    result = _redacted(DocxEngine(), path, detector, policy)
    out = _shared(result, directory / "page-out.docx")
    assert result.data is not None
    xml = _part(result.data, "word/document.xml")
    (neutral,) = re.findall(r'w:bookmarkStart [^>]*w:name="([^"]+)"', xml)
    assert f'w:anchor="{neutral}"' in xml
    text = soffice_text(out)
    assert "Intro for the turbine line" in text
    assert "kestrel" not in text.casefold()


def test_imported_html_chunk_is_removed_and_reported(
    base_docx: Path, detector: Detector, policy: Policy
) -> None:
    path = _docx(
        base_docx,
        "altchunk.docx",
        {
            "word/document.xml": _before("</w:body>", '<w:altChunk r:id="rIdAlt1"/>'),
            "word/_rels/document.xml.rels": _before(
                "</Relationships>",
                f'<Relationship Id="rIdAlt1" Type="{corpus.RT}aFChunk" Target="afchunk.htm"/>',
            ),
            "[Content_Types].xml": _before(
                "</Types>", '<Default Extension="htm" ContentType="application/xhtml+xml"/>'
            ),
            "word/afchunk.htm": f"<html><body><p>Shipped to {N}</p></body></html>".encode(),
        },
    )
    result = _redacted(DocxEngine(), path, detector, policy)
    out = _shared(result, path.with_name("altchunk-out.docx"))
    assert result.data is not None
    with zipfile.ZipFile(io.BytesIO(result.data)) as archive:
        assert "word/afchunk.htm" not in archive.namelist()
    assert "altChunk" not in _part(result.data, "word/document.xml")
    assert IMPORTED_REMOVED in result.report["warnings"]
    assert result.report["sanitised"]["imported_content_removed"] == 1
    assert corpus.KEPT in soffice_text(out)


GLOSSARY = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:glossaryDocument xmlns:w="{W_NS}">'
    f'<w:docParts><w:docPart><w:docPartPr><w:name w:val="{N} letterhead"/><w:category>'
    '<w:name w:val="General"/><w:gallery w:val="placeholder"/></w:category>'
    '<w:guid w:val="{11111111-2222-3333-4444-555555555555}"/></w:docPartPr><w:docPartBody><w:p><w:r>'
    f"<w:t>Dear {N}</w:t></w:r></w:p></w:docPartBody></w:docPart></w:docParts></w:glossaryDocument>"
)
STYLE = (
    '<w:style w:type="paragraph" w:customStyle="1" w:styleId="KestrelDynamicsGmbH">'
    f'<w:name w:val="{N}"/><w:basedOn w:val="Normal"/></w:style>'
)
MARKUP = (
    '<w:permStart w:id="1" w:ed="kestrel.dynamics@example.com"/>'
    '<w:p><w:smartTag w:uri="urn:schemas-microsoft-com:office:smarttags" w:element="PersonName">'
    f'<w:smartTagPr><w:attr w:name="ProductID" w:val="{N}"/></w:smartTagPr><w:r><w:t>the client</w:t></w:r>'
    '</w:smartTag><w:customXml w:element="KestrelDynamicsGmbH"><w:r><w:t xml:space="preserve"> tagged</w:t>'
    '</w:r></w:customXml></w:p><w:permEnd w:id="1"/>'
)


Edits = dict[str, bytes | Callable[[bytes], bytes]]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            (
                "math.docx",
                {
                    "word/document.xml": _body(
                        f'<w:p><m:oMath xmlns:m="{MATH}"><m:r><m:t>{N}</m:t></m:r></m:oMath></w:p>'
                    )
                },
                corpus.KEPT,
            ),
            id="equation",
        ),
        pytest.param(
            (
                "glossary.docx",
                {
                    "word/glossary/document.xml": GLOSSARY.encode(),
                    "word/_rels/document.xml.rels": _before(
                        "</Relationships>",
                        f'<Relationship Id="rIdG" Type="{corpus.RT}glossaryDocument" '
                        'Target="glossary/document.xml"/>',
                    ),
                    "[Content_Types].xml": _before(
                        "</Types>",
                        '<Override PartName="/word/glossary/document.xml" ContentType="application/vnd.'
                        'openxmlformats-officedocument.wordprocessingml.document.glossary+xml"/>',
                    ),
                },
                corpus.KEPT,
            ),
            id="building-block",
        ),
        pytest.param(
            (
                "style.docx",
                {
                    "word/styles.xml": _before("</w:styles>", STYLE),
                    "word/document.xml": _body(
                        '<w:p><w:pPr><w:pStyle w:val="KestrelDynamicsGmbH"/></w:pPr>'
                        "<w:r><w:t>styled line</w:t></w:r></w:p>"
                    ),
                },
                "styled line",
            ),
            id="custom-style",
        ),
        pytest.param(
            ("markup.docx", {"word/document.xml": _body(MARKUP)}, "the client tagged"), id="smart-tags"
        ),
    ],
)
def test_docx_trick_places_are_redacted(
    base_docx: Path,
    detector: Detector,
    policy: Policy,
    case: tuple[str, Edits, str],
) -> None:
    name, edits, kept = case
    path = _docx(base_docx, name, edits)
    result = _redacted(DocxEngine(), path, detector, policy)
    out = _shared(result, path.with_name("out-" + name))
    text = soffice_text(out)
    assert kept in text
    assert "kestrel" not in text.casefold()


def test_custom_style_keeps_its_paragraphs_after_renaming(
    base_docx: Path, detector: Detector, policy: Policy
) -> None:
    path = _docx(
        base_docx,
        "style2.docx",
        {
            "word/styles.xml": _before("</w:styles>", STYLE),
            "word/document.xml": _body(
                '<w:p><w:pPr><w:pStyle w:val="KestrelDynamicsGmbH"/></w:pPr>'
                "<w:r><w:t>styled</w:t></w:r></w:p>"
            ),
        },
    )
    result = _redacted(DocxEngine(), path, detector, policy)
    assert result.ok, result.report
    assert result.data is not None
    styles = _part(result.data, "word/styles.xml")
    (new_id,) = re.findall(rf'w:customStyle="1" w:styleId="([^"]+)"><w:name w:val="{BOX}"', styles)
    assert f'<w:pStyle w:val="{new_id}"/>' in _part(result.data, "word/document.xml")


def test_a_variant_in_a_place_nothing_reads_is_withheld(
    base_docx: Path, detector: Detector, policy: Policy
) -> None:
    # A font is not read (NER would call every font an organisation); the verifier finds the
    # name in it even written as an identifier, which a folded substring search does not.
    path = _docx(
        base_docx,
        "font.docx",
        {
            "word/document.xml": _body(
                '<w:p><w:r><w:rPr><w:rFonts w:ascii="Kestrel_Dynamics_GmbH_Sans"/></w:rPr>'
                "<w:t>x</w:t></w:r></w:p>"
            )
        },
    )
    result = _redacted(DocxEngine(), path, detector, policy)
    assert not result.ok
    assert result.data is None
    assert "verification" in result.report["withheld"]
    assert result.report["verification"]["leaks"]


def test_strictest_view_is_not_withheld_for_style_and_font_names(
    base_docx: Path, detector: Detector, tmp_path: Path
) -> None:
    # A recipient the policy does not name redacts every finding, NER guesses included; the
    # verifier must not turn Word's own style and font names into values to find.
    strict = load_policy(
        f'version: 1\nname: strict\nterms:\n  customers: ["{N}"]\n'
        "recipients:\n  supplier: {redact: [CUSTOMER]}\n"
    )
    path = _docx(
        base_docx, "strict.docx", {"word/document.xml": _body(f"<w:p><w:r><w:t>For {N}</w:t></w:r></w:p>")}
    )
    result = _redacted(DocxEngine(), path, Detector(strict), strict, recipient="bureau")
    _shared(result, tmp_path / "strict-out.docx")


# -- XLSX ----------------------------------------------------------------------------------


def test_sheet_header_and_footer_sections_are_redacted_codes_kept(
    tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    path = tmp_path / "header.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"] = corpus.KEPT
    sheet.oddHeader.center.text = N
    sheet.oddFooter.left.text = f"&BConfidential&B {N} &&Co"
    sheet.oddFooter.right.text = "Page &P of &N"
    workbook.save(path)
    result = _redacted(XlsxEngine(), path, detector, policy)
    _shared(result, tmp_path / "header-out.xlsx")
    assert result.data is not None
    xml = _part(result.data, "xl/worksheets/sheet1.xml")
    (footer,) = re.findall(r"<oddFooter>(.*?)</oddFooter>", xml)
    assert footer == f"&amp;L&amp;BConfidential&amp;B {BOX} &amp;&amp;Co&amp;RPage &amp;P of &amp;N"
    assert f"<oddHeader>&amp;C{BOX}</oddHeader>" in xml


@pytest.mark.parametrize(
    "target",
    [
        "mailto:orders@example.org?subject=Kestrel%20Dynamics%20GmbH%20order",
        "mailto:orders@example.org?subject=Kestrel+Dynamics+GmbH",
        f"mailto:orders@example.org?subject={N}",
    ],
    ids=["percent", "plus", "plain"],
)
def test_cell_hyperlink_naming_the_customer_loses_its_link(
    tmp_path: Path, detector: Detector, policy: Policy, target: str
) -> None:
    path = tmp_path / "link.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"] = "write to us"
    sheet["A1"].hyperlink = target
    sheet["A2"] = "portal"
    sheet["A2"].hyperlink = "https://portal.example.org/orders"
    workbook.save(path)
    result = _redacted(XlsxEngine(), path, detector, policy)
    out = _shared(result, tmp_path / "link-out.xlsx")
    reopened = openpyxl.load_workbook(out)
    cells = reopened.active
    assert cells is not None
    assert cells["A1"].value == "write to us"
    assert cells["A1"].hyperlink is None
    assert cells["A2"].hyperlink is not None
    assert cells["A2"].hyperlink.target == "https://portal.example.org/orders"


def test_numfmt_literal_text_is_redacted(tmp_path: Path, detector: Detector, policy: Policy) -> None:
    path = tmp_path / "numfmt.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"] = 7
    sheet["A1"].number_format = f'"{N} "0'
    sheet.column_dimensions["A"].width = 60
    workbook.save(path)
    result = _redacted(XlsxEngine(), path, detector, policy)
    out = _shared(result, tmp_path / "numfmt-out.xlsx")
    text = soffice_text(out, "pdf")
    assert "7" in text
    assert "kestrel" not in text.casefold()


# -- PPTX ----------------------------------------------------------------------------------


def test_presentation_tags_custom_shows_and_sections(
    tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    path = tmp_path / "tags.pptx"
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    assert slide.shapes.title is not None
    slide.shapes.title.text = f"{corpus.KEPT} tour"
    deck.save(str(path))
    p14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
    tags = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:tagLst xmlns:p="http://schemas.'
        f'openxmlformats.org/presentationml/2006/main"><p:tag name="CLIENT" val="{N}"/>'
        f'<p:tag name="{N.upper()}" val="1"/></p:tagLst>'
    )
    corpus.rewrite_zip(
        path,
        {
            "ppt/presentation.xml": _before(
                "</p:presentation>",
                f'<p:custShowLst><p:custShow name="{N} cut" id="0"><p:sldLst/></p:custShow></p:custShowLst>'
                '<p:extLst><p:ext uri="{521415D9-36F7-43E2-AB2F-B90AF26B5E84}">'
                f'<p14:sectionLst xmlns:p14="{p14}"><p14:section name="{N} deals" '
                'id="{11111111-1111-1111-1111-111111111111}"><p14:sldIdLst/></p14:section></p14:sectionLst>'
                "</p:ext></p:extLst>",
            ),
            "ppt/slides/_rels/slide1.xml.rels": _before(
                "</Relationships>",
                f'<Relationship Id="rIdTag" Type="{corpus.RT}tags" Target="../tags/tag1.xml"/>',
            ),
            "ppt/slides/slide1.xml": _before(
                "<p:clrMapOvr>", '<p:custDataLst><p:tags r:id="rIdTag"/></p:custDataLst>'
            ),
            "[Content_Types].xml": _before(
                "</Types>",
                '<Override PartName="/ppt/tags/tag1.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.presentationml.tags+xml"/>',
            ),
            "ppt/tags/tag1.xml": tags.encode(),
        },
    )
    result = _redacted(PptxEngine(), path, detector, policy)
    out = _shared(result, tmp_path / "tags-out.pptx")
    text = soffice_text(out, "pdf")
    assert corpus.KEPT in text
    assert "kestrel" not in text.casefold()


def test_an_embedded_video_is_replaced_and_the_applicant_told(
    tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    from tests.corpus import video

    clip = video.clip(tmp_path, "tour.mp4", seconds=1.0)  # shows the customer's name, tags name it too
    path = tmp_path / "movie.pptx"
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    assert slide.shapes.title is not None
    slide.shapes.title.text = f"{corpus.KEPT} tour"
    slide.shapes.add_movie(str(clip), 914400, 914400, 3657600, 2743200, mime_type="video/mp4")
    deck.save(str(path))
    assert any(name.endswith(".mp4") for name in zipfile.ZipFile(path).namelist())

    result = _redacted(PptxEngine(), path, detector, policy)
    out = _shared(result, tmp_path / "movie-out.pptx")
    with zipfile.ZipFile(out) as archive:
        # No part is a video any more, whatever it is called: ISO-BMFF starts with a size and "ftyp".
        assert not any(archive.read(name)[4:8] == b"ftyp" for name in archive.namelist())
    assert any("embedded video" in w for w in result.report["warnings"]), result.report["warnings"]
    assert corpus.KEPT in soffice_text(out, "pdf")
