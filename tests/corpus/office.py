"""DOCX and PPTX test documents, generated at test time (no committed binaries).

Producers: python-docx and python-pptx for the bulk, raw part edits for what
they cannot write (footnotes, tracked changes, field codes, VML text boxes,
OLE objects, macros, external relationships, legacy comments), and
LibreOffice (``soffice --convert-to docx/pptx``) from flat ODF documents.
The customer name sits in every place a reader of the output could find it;
hostile files (bombs, traversal names, encrypted and macro-enabled packages)
are built by rewriting the ZIP.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont

CUSTOMER = "Kestrel Dynamics GmbH"
#: the customer inside a URL, the way a portal link spells it
CUSTOMER_URL = "https://portal.example.org/customers/Kestrel Dynamics GmbH/orders"
#: a word that must survive redaction wherever it stands next to the name
KEPT = "Neodymium"
POLICY = f"""
version: 1
name: office tests
terms:
  customers: ["{CUSTOMER}"]
recipients:
  supplier: {{redact: [CUSTOMER]}}
  bureau: {{redact: [CUSTOMER], images: remove}}
"""

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
CT = "application/vnd.openxmlformats-officedocument."
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def label_png(text: str, width: int = 1400, height: int = 160) -> bytes:
    """A PNG with ``text`` printed large enough for Tesseract to read."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 56) if Path(FONT).exists() else ImageFont.load_default(56)
    draw.text((30, 40), text, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def rewrite_zip(
    path: Path,
    edits: dict[str, bytes | Callable[[bytes], bytes]],
    out: Path | None = None,
    extra: list[tuple[zipfile.ZipInfo | str, bytes]] | None = None,
) -> Path:
    """Copy a ZIP, replacing or adding parts (a callable edits the existing bytes)."""
    out = out or path
    with zipfile.ZipFile(path) as source:
        parts = {i.filename: source.read(i) for i in source.infolist()}
    for name, edit in edits.items():
        parts[name] = edit(parts.get(name, b"")) if callable(edit) else edit
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the hostile cases
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
            for name, data in parts.items():
                target.writestr(name, data)
            for info, data in extra or []:
                target.writestr(info, data)
    out.write_bytes(buffer.getvalue())
    return out


def _insert_before(marker: bytes, addition: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        assert marker in data, marker
        return data.replace(marker, addition.encode() + marker, 1)

    return edit


def _add_override(part: str, content_type: str) -> Callable[[bytes], bytes]:
    return _insert_before(b"</Types>", f'<Override PartName="/{part}" ContentType="{content_type}"/>')


def _chain(*edits: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        for step in edits:
            data = step(data)
        return data

    return edit


def _rel(rid: str, kind: str, target: str, external: bool = False) -> str:
    mode = ' TargetMode="External"' if external else ""
    return f'<Relationship Id="{rid}" Type="{RT}{kind}" Target={quoteattr(target)}{mode}/>'


def _notes_xml(root: str, tag: str, text: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:{root} xmlns:w="{W}">'
        f'<w:{tag} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{tag}>'
        f'<w:{tag} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/>'
        f"</w:r></w:p></w:{tag}>"
        f'<w:{tag} w:id="1"><w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p></w:{tag}>'
        f"</w:{root}>"
    )


# -- DOCX -------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    """A Word document with the customer name in every place the brief lists."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    document.add_heading(f"{KEPT} magnet order", level=1)
    split = document.add_paragraph("Ordered by ")
    bold = split.add_run("Kestrel Dyn")
    bold.bold = True
    italic = split.add_run("amics GmbH")
    italic.italic = True
    split.add_run(f" for {KEPT} magnets.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "End user"
    table.cell(0, 1).text = CUSTOMER
    table.cell(1, 0).text = "Material"
    table.cell(1, 1).text = KEPT
    section = document.sections[0]
    section.header.paragraphs[0].text = f"Confidential: {CUSTOMER}"
    section.footer.paragraphs[0].text = f"Prepared for {CUSTOMER}"
    commented = document.add_paragraph(f"Delivery terms for {KEPT} parts.")
    document.add_comment(commented.runs, text=f"Ask {CUSTOMER} about dates", author=CUSTOMER, initials="KD")
    document.add_paragraph("TRACKED")
    document.add_paragraph("FIELDS")
    document.add_paragraph("TEXTBOX")
    document.add_paragraph("NOTES")
    picture = document.add_paragraph()
    picture.add_run().add_picture(io.BytesIO(label_png(f"Ship to {CUSTOMER}")), width=Inches(5))
    document.add_paragraph("OLE")
    document.add_paragraph(f"Closing line about {KEPT}.")
    props = document.core_properties
    props.author = CUSTOMER
    props.last_modified_by = CUSTOMER
    props.title = f"Order for {CUSTOMER}"
    props.subject = CUSTOMER
    props.keywords = CUSTOMER
    props.comments = f"Notes on {CUSTOMER}"
    props.category = CUSTOMER
    document.save(str(path))
    return _docx_raw_parts(path)


def _docx_raw_parts(path: Path) -> Path:
    """Add what python-docx cannot write: revisions, fields, text box, notes, OLE, macros, links."""
    tracked = (
        f'<w:p><w:ins w:id="901" w:author="{CUSTOMER}" w:date="2024-01-01T00:00:00Z"><w:r>'
        f'<w:t xml:space="preserve">Added for {CUSTOMER}. </w:t></w:r></w:ins>'
        f'<w:del w:id="902" w:author="{CUSTOMER}" w:date="2024-01-01T00:00:00Z"><w:r>'
        f"<w:delText>Removed mention of {CUSTOMER}</w:delText></w:r></w:del>"
        f'<w:r><w:t xml:space="preserve"> {KEPT} stays.</w:t></w:r></w:p>'
    )
    fields = (
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> HYPERLINK "{escape(CUSTOMER_URL)}" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"<w:r><w:t>Portal of {CUSTOMER}</w:t></w:r>"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        '<w:r><w:t xml:space="preserve"> and </w:t></w:r>'
        f'<w:hyperlink r:id="rIdLink1"><w:r><w:t>Mail {CUSTOMER}</w:t></w:r></w:hyperlink>'
        '<w:r><w:t xml:space="preserve">, author: </w:t></w:r>'
        f'<w:fldSimple w:instr=" AUTHOR {CUSTOMER} "><w:r><w:t>{CUSTOMER}</w:t></w:r></w:fldSimple>'
        "</w:p>"
    )
    textbox = (
        '<w:p><w:r><w:pict><v:shape id="tb1" type="#_x0000_t202" style="width:300pt;height:40pt">'
        f"<v:textbox><w:txbxContent><w:p><w:r><w:t>Box for {CUSTOMER}</w:t></w:r></w:p></w:txbxContent>"
        "</v:textbox></v:shape></w:pict></w:r></w:p>"
    )
    notes = (
        '<w:p><w:r><w:t xml:space="preserve">See notes</w:t></w:r>'
        '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteReference w:id="1"/></w:r>'
        '<w:r><w:endnoteReference w:id="1"/></w:r></w:p>'
    )
    ole = (
        '<w:p><w:r><w:object w:dxaOrig="1440" w:dxaOrig2="1440">'
        '<v:shape id="ole1" style="width:72pt;height:72pt"><v:imagedata r:id="rIdOlePreview"/></v:shape>'
        '<o:OLEObject Type="Embed" ProgID="Package" ShapeID="ole1" DrawAspect="Icon" ObjectID="_1" '
        'r:id="rIdOle1"/></w:object></w:r></w:p>'
    )

    def body(data: bytes) -> bytes:
        for marker, xml in (
            ("TRACKED", tracked),
            ("FIELDS", fields),
            ("TEXTBOX", textbox),
            ("NOTES", notes),
            ("OLE", ole),
        ):
            placeholder = f"<w:p><w:r><w:t>{marker}</w:t></w:r></w:p>".encode()
            assert placeholder in data, marker
            data = data.replace(placeholder, xml.encode(), 1)
        # The alt text of the picture names the customer too.
        return data.replace(b'descr=""', f'descr="Label of {CUSTOMER}"'.encode(), 1).replace(
            b"<wp:docPr ", f'<wp:docPr title="{CUSTOMER}" '.encode(), 1
        )

    rels = "".join(
        [
            _rel("rIdLink1", "hyperlink", f"mailto:orders@example.org?subject={CUSTOMER}", external=True),
            _rel("rIdFoot", "footnotes", "footnotes.xml"),
            _rel("rIdEnd", "endnotes", "endnotes.xml"),
            _rel("rIdOle1", "oleObject", "embeddings/oleObject1.bin"),
            _rel("rIdOlePreview", "image", "media/ole_preview.emf"),
            '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/'
            'vbaProject" Target="vbaProject.bin"/>',
        ]
    )
    settings_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + _rel("rIdTpl", "attachedTemplate", f"file:///C:/Templates/{CUSTOMER}.dotx", external=True)
        + "</Relationships>"
    )
    content_types = _chain(
        _add_override("word/footnotes.xml", CT + "wordprocessingml.footnotes+xml"),
        _add_override("word/endnotes.xml", CT + "wordprocessingml.endnotes+xml"),
        _add_override("docProps/custom.xml", CT + "custom-properties+xml"),
        _insert_before(
            b"</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        ),
        _insert_before(b"</Types>", '<Default Extension="emf" ContentType="image/x-emf"/>'),
    )
    custom = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Properties xmlns="{CT}custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Client">'
        f"<vt:lpwstr>{CUSTOMER}</vt:lpwstr></property></Properties>"
    )
    return rewrite_zip(
        path,
        {
            "word/document.xml": body,
            "word/_rels/document.xml.rels": _insert_before(b"</Relationships>", rels),
            "word/_rels/settings.xml.rels": settings_rels.encode(),
            "word/settings.xml": _insert_before(b"</w:settings>", '<w:attachedTemplate r:id="rIdTpl"/>'),
            "word/footnotes.xml": _notes_xml("footnotes", "footnote", f"Footnote on {CUSTOMER}").encode(),
            "word/endnotes.xml": _notes_xml("endnotes", "endnote", f"Endnote on {CUSTOMER}").encode(),
            "word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0OLE " + CUSTOMER.encode() * 4,
            "word/media/ole_preview.emf": b"\x01\x00\x00\x00EMF " + CUSTOMER.encode("utf-16-le"),
            "word/vbaProject.bin": b"\xd0\xcf\x11\xe0VBA Sub " + CUSTOMER.encode(),
            "docProps/app.xml": _insert_before(
                b"</Properties>", f"<Company>{CUSTOMER}</Company><Manager>{CUSTOMER}</Manager>"
            ),
            "docProps/custom.xml": custom.encode(),
            "_rels/.rels": _insert_before(
                b"</Relationships>",
                '<Relationship Id="rIdCustom" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                'relationships/custom-properties" Target="docProps/custom.xml"/>',
            ),
            "[Content_Types].xml": content_types,
        },
    )


def make_long_docx(path: Path, pages: int = 200) -> Path:
    """A plain report of about ``pages`` pages: paragraphs, some tables, the customer now and then."""
    import docx

    document = docx.Document()
    sentence = (
        f"Batch records for sintered {KEPT} magnets list coercivity, remanence and the grain "
        "boundary diffusion step for each lot shipped this quarter. "
    )
    for page in range(pages):
        document.add_heading(f"Section {page + 1}", level=2)
        for line in range(8):
            text = sentence * 2
            if line == 3:
                text += f"Customer: {CUSTOMER}."
            document.add_paragraph(text)
        if page % 10 == 0:
            table = document.add_table(rows=4, cols=3)
            for row in table.rows:
                for cell in row.cells:
                    cell.text = f"{KEPT} N52 lot {page}"
    document.save(str(path))
    return path


# -- PPTX -------------------------------------------------------------------------


def make_pptx(path: Path) -> Path:
    """A deck with the name on slides, in notes, master and layout, table, chart, comments, alt text."""
    import pptx
    from pptx.chart.data import CategoryChartData
    from pptx.util import Inches

    deck = pptx.Presentation()
    title_slide = deck.slides.add_slide(deck.slide_layouts[0])
    title = title_slide.shapes.title.text_frame.paragraphs[0]
    first = title.add_run()
    first.text = "Order: Kestrel "
    first.font.bold = True
    second = title.add_run()
    second.text = "Dynamics GmbH"
    second.font.italic = True
    title_slide.placeholders[1].text = f"{KEPT} magnets"
    title_slide.notes_slide.notes_text_frame.text = f"Speaker: do not mention {CUSTOMER}"

    body = deck.slides.add_slide(deck.slide_layouts[5])
    body.shapes.title.text = f"{KEPT} lots"
    rows = body.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    rows.cell(0, 0).text = "End user"
    rows.cell(0, 1).text = CUSTOMER
    rows.cell(1, 0).text = "Grade"
    rows.cell(1, 1).text = KEPT
    box = body.shapes.add_textbox(Inches(1), Inches(3.5), Inches(6), Inches(1))
    run = box.text_frame.paragraphs[0].add_run()
    run.text = f"Portal of {CUSTOMER}"
    run.hyperlink.address = CUSTOMER_URL
    picture = body.shapes.add_picture(io.BytesIO(label_png(f"Ship to {CUSTOMER}")), Inches(1), Inches(5))
    picture._element.nvPicPr.cNvPr.set("descr", f"Label of {CUSTOMER}")
    body._element.cSld.set("name", f"Slide for {CUSTOMER}")

    chart_slide = deck.slides.add_slide(deck.slide_layouts[5])
    chart_slide.shapes.title.text = "Volumes"
    data = CategoryChartData()
    data.categories = [CUSTOMER, "Other buyers"]
    data.add_series(f"{KEPT} tonnes", (3, 5))
    chart_slide.shapes.add_chart(
        pptx.enum.chart.XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(4), data
    )
    # Master and layout placeholders hold prompt text every slide inherits.
    deck.slide_master.placeholders[0].text_frame.text = f"Master title of {CUSTOMER}"
    deck.slide_layouts[5].placeholders[0].text_frame.text = f"Layout title of {CUSTOMER}"
    deck.core_properties.author = CUSTOMER
    deck.core_properties.title = f"Deck for {CUSTOMER}"
    deck.save(str(path))
    return _pptx_comments(path)


def _pptx_comments(path: Path) -> Path:
    """A legacy comment by the customer on slide 1 (python-pptx writes none)."""
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    authors = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:cmAuthorLst xmlns:p="{p}">'
        f'<p:cmAuthor id="0" name="{CUSTOMER}" initials="KD" lastIdx="1" clrIdx="0"/></p:cmAuthorLst>'
    )
    comments = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:cmLst xmlns:p="{p}">'
        '<p:cm authorId="0" dt="2024-01-01T00:00:00.000" idx="1"><p:pos x="10" y="10"/>'
        f"<p:text>Check with {CUSTOMER}</p:text></p:cm></p:cmLst>"
    )
    return rewrite_zip(
        path,
        {
            "ppt/commentAuthors.xml": authors.encode(),
            "ppt/comments/comment1.xml": comments.encode(),
            "ppt/_rels/presentation.xml.rels": _insert_before(
                b"</Relationships>", _rel("rIdAuthors", "commentAuthors", "commentAuthors.xml")
            ),
            "ppt/slides/_rels/slide1.xml.rels": _insert_before(
                b"</Relationships>", _rel("rIdCm", "comments", "../comments/comment1.xml")
            ),
            "[Content_Types].xml": _chain(
                _add_override("ppt/commentAuthors.xml", CT + "presentationml.commentAuthors+xml"),
                _add_override("ppt/comments/comment1.xml", CT + "presentationml.comments+xml"),
            ),
        },
    )


# -- LibreOffice --------------------------------------------------------------------

_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def _fodt() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {_ODF_NS} office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:meta><dc:title>Order for {CUSTOMER}</dc:title><dc:creator>{CUSTOMER}</dc:creator></office:meta>
 <office:automatic-styles>
  <style:style style:name="B" style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>
 </office:automatic-styles>
 <office:body><office:text>
  <text:h text:outline-level="1">{KEPT} order</text:h>
  <text:p>Ordered by <text:span text:style-name="B">Kestrel Dyn</text:span>amics GmbH for {KEPT}.</text:p>
  <text:p>Link: <text:a xlink:type="simple" xlink:href="{escape(CUSTOMER_URL)}">{CUSTOMER}</text:a></text:p>
  <table:table table:name="T1"><table:table-column table:number-columns-repeated="2"/>
   <table:table-row><table:table-cell><text:p>End user</text:p></table:table-cell>
    <table:table-cell><text:p>{CUSTOMER}</text:p></table:table-cell></table:table-row>
  </table:table>
  <text:p>Footnote here<text:note text:id="n1" text:note-class="footnote">
   <text:note-citation>1</text:note-citation>
   <text:note-body><text:p>Footnote on {CUSTOMER}</text:p></text:note-body></text:note></text:p>
  <text:p>Closing {KEPT}.</text:p>
 </office:text></office:body>
</office:document>
"""


def _fodp() -> str:
    def slide(n: int, title: str, notes: str) -> str:
        return f"""<draw:page draw:name="page{n}">
   <draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm"><draw:text-box>
    <text:p>{escape(title)}</text:p></draw:text-box></draw:frame>
   <presentation:notes><draw:frame svg:x="2cm" svg:y="15cm" svg:width="17cm" svg:height="8cm"
     presentation:class="notes"><draw:text-box><text:p>{escape(notes)}</text:p></draw:text-box></draw:frame>
   </presentation:notes></draw:page>"""

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {_ODF_NS} office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.presentation">
 <office:meta><dc:title>Deck for {CUSTOMER}</dc:title></office:meta>
 <office:body><office:presentation>
  {slide(1, f"Order by {CUSTOMER}", f"Notes on {CUSTOMER}")}
  {slide(2, f"{KEPT} volumes", "Nothing secret here")}
 </office:presentation></office:body>
</office:document>
"""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise RuntimeError("LibreOffice is required for the Office corpus (Debian: libreoffice-nogui)")
    return found


def soffice_convert(sources: list[Path], target: str, outdir: Path, timeout: float = 180) -> list[Path]:
    """Convert with a private, throw-away profile; the converted paths in order."""
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir / ".lo-profile"
    proc = subprocess.run(
        [
            soffice(),
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.resolve().as_uri()}",
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
    extension = target.split(":", maxsplit=1)[0]
    outputs = [outdir / (s.stem + "." + extension) for s in sources]
    missing = [o.name for o in outputs if not o.exists()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(
            f"soffice failed (exit {proc.returncode}, missing {missing}): {proc.stderr[-800:]!r}"
        )
    return outputs


def make_libreoffice(directory: Path) -> dict[str, Path]:
    """A DOCX and a PPTX written by LibreOffice from flat ODF (two soffice runs)."""
    directory.mkdir(parents=True, exist_ok=True)
    fodt, fodp = directory / "lo_text.fodt", directory / "lo_deck.fodp"
    fodt.write_text(_fodt(), encoding="utf-8")
    fodp.write_text(_fodp(), encoding="utf-8")
    (docx_path,) = soffice_convert([fodt], "docx:MS Word 2007 XML", directory / "out")
    (pptx_path,) = soffice_convert([fodp], "pptx:Impress MS PowerPoint 2007 XML", directory / "out")
    return {"docx": docx_path, "pptx": pptx_path}


# -- hostile inputs -----------------------------------------------------------------


def zip_bomb_docx(source: Path, out: Path, megabytes: int = 64) -> Path:
    """A valid DOCX whose document.xml inflates from a few KiB to ``megabytes`` MiB."""
    padding = b" " * (megabytes * 2**20)

    def inflate(data: bytes) -> bytes:
        return data.replace(b"<w:body>", b"<w:body>" + padding, 1)

    return rewrite_zip(source, {"word/document.xml": inflate}, out)


def entity_bomb_docx(source: Path, out: Path) -> Path:
    """Billion laughs in document.xml."""
    lol = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    ]
    bomb = (
        '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE w:document [' + "".join(lol) + "]>"
        f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
    )
    return rewrite_zip(source, {"word/document.xml": bomb.encode()}, out)


def traversal_docx(source: Path, out: Path, name: str) -> Path:
    return rewrite_zip(source, {}, out, extra=[(name, b"x")])


def duplicate_docx(source: Path, out: Path) -> Path:
    return rewrite_zip(source, {}, out, extra=[("word/document.xml", b"<x/>")])


def symlink_docx(source: Path, out: Path) -> Path:
    info = zipfile.ZipInfo("word/media/link.png")
    info.external_attr = (0o120777) << 16
    return rewrite_zip(source, {}, out, extra=[(info, b"/etc/passwd")])


def docm(source: Path, out: Path) -> Path:
    def macro_type(data: bytes) -> bytes:
        return data.replace(
            b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            b"application/vnd.ms-word.document.macroEnabled.main+xml",
        )

    return rewrite_zip(source, {"[Content_Types].xml": macro_type}, out)


def encrypted_docx(source: Path, out: Path) -> Path:
    """A password-protected DOCX (an encrypted CFB container) made by msoffcrypto-tool."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with source.open("rb") as plain, out.open("wb") as target:
        OOXMLFile(plain).encrypt("secret", target)
    return out
