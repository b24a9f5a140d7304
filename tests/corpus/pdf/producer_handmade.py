"""PDFs with hand-written content streams, assembled with pikepdf.

Each function writes one file exercising one thing the engine must handle:
text operators and string forms, font kinds, forms, hidden layers, active
content and metadata, incremental updates, and hostile files.
"""

from __future__ import annotations

import io
import re
import zlib
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image

from tests.corpus.pdf import SECRET

Name = pikepdf.Name


def helvetica(pdf: pikepdf.Pdf) -> pikepdf.Object:
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding
        )
    )


def _page(pdf: pikepdf.Pdf, content: bytes, resources: pikepdf.Dictionary) -> pikepdf.Page:
    page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=Name.Page,
            MediaBox=[0, 0, 612, 792],
            Contents=pdf.make_stream(content),
            Resources=resources,
        )
    )
    pdf.pages.append(page)
    return pdf.pages[-1]


def _save(pdf: pikepdf.Pdf, path: Path, **kw: Any) -> Path:
    pdf.save(path, **kw)
    return path


def operators(dirpath: Path) -> Path:
    """Tj, TJ with the name split by kerning, ', ", hex strings, split operators, Tz/Tc/Tw."""
    pdf = pikepdf.new()
    hexname = SECRET.encode().hex().upper()
    content = f"""BT /F1 12 Tf 14 TL 72 720 Td
(Plain Tj: {SECRET} and the turbine.) Tj
T* [(Kerned: Kes) -30 (trel Dyn) 45.5 (amics) -250 (and the turbine.)] TJ
({SECRET} via quote operator, turbine.) '
2 0.5 (Spaced {SECRET} via double quote, turbine.) "
0 Tw 0 Tc T* (Hex: ) Tj <{hexname}> Tj ( turbine.) Tj
T* (Split: Kest) Tj (rel Dyna) Tj (mics turbine.) Tj
T* 80 Tz (Scaled {SECRET} turbine.) Tj 100 Tz
ET""".encode()
    _page(pdf, content, pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf))))
    return _save(pdf, dirpath / "hand_operators.pdf")


def custom_fonts(dirpath: Path) -> Path:
    """A /Differences encoding, a Type3 font with letter names, a Type0 font with an embedded CMap."""
    pdf = pikepdf.new()
    letters = sorted(set(SECRET + "turbine and"))
    diffs: list[Any] = [1]
    code_of: dict[str, int] = {}
    for i, ch in enumerate(letters):
        glyph = "space" if ch == " " else ch
        diffs.append(Name("/" + glyph))
        code_of[ch] = i + 1
    diff_font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1,
            BaseFont=Name("/Times-Roman"),
            Encoding=pikepdf.Dictionary(
                Type=Name.Encoding, BaseEncoding=Name.WinAnsiEncoding, Differences=diffs
            ),
        )
    )
    # Type3: every glyph is a filled box; names are the letters.
    procs = pikepdf.Dictionary()
    for ch in letters:
        glyph = "space" if ch == " " else ch
        body = b"600 0 0 0 600 700 d1" if ch == " " else b"600 0 0 0 600 700 d1 50 0 500 700 re f"
        procs[Name("/" + glyph)] = pdf.make_stream(body)
    type3 = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.Type3,
            FontBBox=[0, 0, 600, 700],
            FontMatrix=[0.001, 0, 0, 0.001, 0, 0],
            CharProcs=procs,
            Encoding=pikepdf.Dictionary(Type=Name.Encoding, Differences=diffs),
            FirstChar=1,
            LastChar=len(letters),
            Widths=[600] * len(letters),
            Resources=pikepdf.Dictionary(),
        )
    )
    # Type0 with an embedded 1-byte CMap (code = letter code + 0x20 -> CID), ToUnicode.
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CMapName /Custom-H def 1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"1 begincidrange <00> <FF> 0 endcidrange endcmap\n"
        b"CMapName currentdict /CMap defineresource pop end end"
    )
    tu_lines = [f"<{ord(ch):02X}> <{ord(ch):04X}>" for ch in letters]
    tounicode = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "1 begincodespacerange <00> <FF> endcodespacerange\n"
        f"{len(tu_lines)} beginbfchar\n" + "\n".join(tu_lines) + "\nendbfchar\nendcmap end end"
    ).encode()
    cid_font = pikepdf.Dictionary(
        Type=Name.Font,
        Subtype=Name.CIDFontType2,
        BaseFont=Name("/DejaVuSans"),
        CIDSystemInfo=pikepdf.Dictionary(
            Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0
        ),
        DW=600,
        W=[32, [300], 97, 122, 550],
        FontDescriptor=pikepdf.Dictionary(
            Type=Name.FontDescriptor,
            FontName=Name("/DejaVuSans"),
            Flags=32,
            FontBBox=[0, -200, 1000, 900],
            ItalicAngle=0,
            Ascent=900,
            Descent=-200,
            CapHeight=700,
            StemV=80,
        ),
    )
    type0 = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.Type0,
            BaseFont=Name("/DejaVuSans"),
            Encoding=pdf.make_stream(
                cmap,
                Type=Name.CMap,
                CMapName=Name("/Custom-H"),
                CIDSystemInfo=pikepdf.Dictionary(
                    Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0
                ),
            ),
            DescendantFonts=[pdf.make_indirect(cid_font)],
            ToUnicode=pdf.make_stream(tounicode),
        )
    )

    def encoded(text: str) -> str:
        return "<" + "".join(f"{code_of[ch]:02X}" for ch in text) + ">"

    content = f"""BT /FD 12 Tf 72 720 Td {encoded(SECRET + " and turbine")} Tj ET
BT /T3 12 Tf 72 690 Td {encoded(SECRET + " and turbine")} Tj ET
BT /C0 12 Tf 72 660 Td <{(SECRET + " and turbine").encode().hex()}> Tj ET""".encode()
    _page(pdf, content, pikepdf.Dictionary(Font=pikepdf.Dictionary(FD=diff_font, T3=type3, C0=type0)))
    return _save(pdf, dirpath / "hand_fonts.pdf")


def unmappable(dirpath: Path) -> Path:
    """A Type3 font whose glyph names mean nothing and with no ToUnicode."""
    pdf = pikepdf.new()
    procs = pikepdf.Dictionary()
    for i in range(1, 6):
        procs[Name(f"/g{i}")] = pdf.make_stream(b"600 0 0 0 600 700 d1 50 0 500 700 re f")
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.Type3,
            FontBBox=[0, 0, 600, 700],
            FontMatrix=[0.001, 0, 0, 0.001, 0, 0],
            CharProcs=procs,
            Encoding=pikepdf.Dictionary(Differences=[1, Name.g1, Name.g2, Name.g3, Name.g4, Name.g5]),
            FirstChar=1,
            LastChar=5,
            Widths=[600] * 5,
            Resources=pikepdf.Dictionary(),
        )
    )
    content = b"BT /F1 12 Tf 72 700 Td (turbine) Tj ET BT /G 12 Tf 72 680 Td <0102030405> Tj ET"
    _page(pdf, content, pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf), G=font)))
    return _save(pdf, dirpath / "hand_unmappable.pdf")


def shared_form(dirpath: Path) -> Path:
    """One Form XObject with the secret, drawn on two pages (twice on the first)."""
    pdf = pikepdf.new()
    font = helvetica(pdf)
    form = pdf.make_stream(
        f"BT /F1 10 Tf 0 0 Td (Letterhead: {SECRET} turbine works) Tj ET".encode(),
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 400, 30],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    res = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Fm1=form))
    _page(
        pdf,
        b"q 1 0 0 1 72 740 cm /Fm1 Do Q q 1 0 0 1 72 100 cm /Fm1 Do Q\n"
        b"BT /F1 12 Tf 72 600 Td (Body turbine.) Tj ET",
        res,
    )
    _page(pdf, b"q 1 0 0 1 72 740 cm /Fm1 Do Q BT /F1 12 Tf 72 600 Td (Second turbine.) Tj ET", res)
    return _save(pdf, dirpath / "hand_form.pdf")


def image_under_text(dirpath: Path) -> Path:
    """An image XObject and an inline image under text that will be redacted."""
    pdf = pikepdf.new()
    img = Image.new("RGB", (200, 40), (200, 30, 30))
    raw = img.tobytes()
    image = pdf.make_stream(
        zlib.compress(raw),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=200,
        Height=40,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    small = Image.new("L", (20, 4), 90).tobytes().hex().upper()
    content = (
        b"q 200 0 0 40 70 690 cm /Im1 Do Q\n"
        b"q 200 0 0 40 70 640 cm BI /W 20 /H 4 /CS /G /BPC 8 /F /AHx ID "
        + small.encode()
        + b"> EI Q\n"
        + f"BT /F1 12 Tf 72 700 Td (On image: {SECRET} turbine) Tj ET\n"
        f"BT /F1 12 Tf 72 650 Td (Inline: {SECRET} turbine) Tj ET".encode()
    )
    _page(
        pdf,
        content,
        pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf)), XObject=pikepdf.Dictionary(Im1=image)),
    )
    return _save(pdf, dirpath / "hand_images.pdf")


def everything_else(dirpath: Path) -> Path:
    """Secrets everywhere except the page: metadata, JS, attachments, layers, structure, thumbnails."""
    pdf = pikepdf.new()
    font = helvetica(pdf)
    ocg_hidden = pdf.make_indirect(
        pikepdf.Dictionary(Type=Name.OCG, Name=pikepdf.String(f"Notes on {SECRET}"))
    )
    ocg_shown = pdf.make_indirect(pikepdf.Dictionary(Type=Name.OCG, Name=pikepdf.String("Visible layer")))
    pdf.Root.OCProperties = pikepdf.Dictionary(
        OCGs=[ocg_hidden, ocg_shown],
        D=pikepdf.Dictionary(ON=[ocg_shown], OFF=[ocg_hidden], Order=[ocg_hidden, ocg_shown]),
    )
    content = (
        b"/Span <</ActualText (Kestrel Dynamics)>> BDC\n"
        b"BT /F1 12 Tf 72 700 Td (The turbine order.) Tj ET EMC\n"
        b"/OC /L1 BDC BT /F1 12 Tf 72 650 Td (Hidden layer: margin 12 percent turbine.) Tj ET EMC\n"
        b"/OC /L2 BDC BT /F1 12 Tf 72 620 Td (Visible layer turbine text.) Tj ET EMC\n"
        b"/P <</MCID 0>> BDC BT /F1 12 Tf 72 600 Td (Tagged turbine paragraph.) Tj ET EMC\n"
    )
    thumb = pdf.make_stream(
        zlib.compress(b"\x00" * 30),
        Width=10,
        Height=1,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    page = _page(
        pdf,
        content,
        pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=font), Properties=pikepdf.Dictionary(L1=ocg_hidden, L2=ocg_shown)
        ),
    )
    page.obj.Thumb = thumb
    page.obj.PieceInfo = pikepdf.Dictionary(
        MyApp=pikepdf.Dictionary(LastModified=pikepdf.String("D:2024"), Private=pikepdf.String(SECRET))
    )
    page.obj.AA = pikepdf.Dictionary(
        O=pikepdf.Dictionary(S=Name.JavaScript, JS=pikepdf.String(f"app.alert('{SECRET}')"))
    )
    js = pdf.make_indirect(pikepdf.Dictionary(S=Name.JavaScript, JS=pikepdf.String(f"var c = '{SECRET}';")))
    pdf.Root.OpenAction = js
    embedded = pdf.make_stream(f"customer,{SECRET}\n".encode(), Type=Name.EmbeddedFile)
    filespec = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Filespec,
            F=pikepdf.String("customers.csv"),
            UF=pikepdf.String("customers.csv"),
            EF=pikepdf.Dictionary(F=embedded),
        )
    )
    pdf.Root.Names = pikepdf.Dictionary(
        EmbeddedFiles=pikepdf.Dictionary(Names=[pikepdf.String("customers.csv"), filespec]),
        JavaScript=pikepdf.Dictionary(Names=[pikepdf.String("init"), js]),
    )
    pdf.Root.AF = [filespec]
    pdf.Root.PageLabels = pikepdf.Dictionary(
        Nums=[0, pikepdf.Dictionary(S=Name.D, P=pikepdf.String(f"{SECRET}-"))]
    )
    pdf.Root.PieceInfo = pikepdf.Dictionary(Tool=pikepdf.Dictionary(Private=pikepdf.String(SECRET)))
    struct_p = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.StructElem,
            S=Name.P,
            Pg=page.obj,
            K=0,
            Alt=pikepdf.String(f"Photo of {SECRET} plant"),
            ActualText=pikepdf.String(f"{SECRET} order"),
        )
    )
    doc = pdf.make_indirect(
        pikepdf.Dictionary(Type=Name.StructElem, S=Name.Document, K=[struct_p], T=pikepdf.String(SECRET))
    )
    struct_p.P = doc
    pdf.Root.StructTreeRoot = pikepdf.Dictionary(Type=Name.StructTreeRoot, K=doc)
    pdf.Root.MarkInfo = pikepdf.Dictionary(Marked=True)
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = f"Orders of {SECRET}"
        meta["dc:creator"] = ["Applicant Alice"]
    pdf.docinfo["/Title"] = pikepdf.String(f"Orders of {SECRET}")
    pdf.docinfo["/Author"] = pikepdf.String("Applicant Alice")
    pdf.docinfo["/Keywords"] = pikepdf.String(SECRET)
    return _save(pdf, dirpath / "hand_everything.pdf")


def incremental_update(dirpath: Path) -> Path:
    """A file whose first revision shows the secret and whose update hides it."""
    pdf = pikepdf.new()
    _page(
        pdf,
        f"BT /F1 12 Tf 72 700 Td (Draft for {SECRET} turbine) Tj ET".encode(),
        pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf))),
    )
    buf = io.BytesIO()
    pdf.save(buf, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    base = buf.getvalue()
    with pikepdf.open(io.BytesIO(base)) as check:
        contents = check.pages[0].obj.Contents
        objnum = contents.objgen[0]
        size = int(check.trailer.Size)
        root_ref = check.Root.objgen[0]
    startxref = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    body = b"BT /F1 12 Tf 72 700 Td (Final for the customer turbine) Tj ET"
    update = b"\n%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (objnum, len(body), body)
    offset = len(base) + 1
    xref_pos = len(base) + len(update)
    xref = b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (objnum, offset)
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        root_ref,
        startxref,
        xref_pos,
    )
    path = dirpath / "hand_incremental.pdf"
    path.write_bytes(base + update + xref + trailer)
    return path


# -- hostile and damaged files ------------------------------------------------------
def encrypted(dirpath: Path) -> Path:
    pdf = pikepdf.new()
    _page(
        pdf,
        b"BT /F1 12 Tf 72 700 Td (secret) Tj ET",
        pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf))),
    )
    return _save(pdf, dirpath / "bad_encrypted.pdf", encryption=pikepdf.Encryption(owner="o", user="u", R=6))


def truncated(dirpath: Path) -> Path:
    src = operators(dirpath)
    data = src.read_bytes()
    path = dirpath / "bad_truncated.pdf"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def garbage(dirpath: Path) -> Path:
    path = dirpath / "bad_garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    return path


def page_tree_loop(dirpath: Path) -> Path:
    font_obj = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        f"/Resources << /Font << /F1 {font_obj} >> >> >>",
        None,
    ]
    content = b"BT /F1 12 Tf 72 700 Td (loop turbine) Tj ET"
    return _write_raw(dirpath / "bad_loop.pdf", objs, {4: content})


def deep_nesting(dirpath: Path) -> Path:
    deep = "[" * 20000 + "]" * 20000
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Junk {deep} >>",
        None,
    ]
    return _write_raw(dirpath / "bad_nesting.pdf", objs, {4: b"BT ET"})


def form_loop(dirpath: Path) -> Path:
    """A Form XObject that draws itself."""
    pdf = pikepdf.new()
    form = pdf.make_stream(b"/Fm1 Do", Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 10, 10])
    form.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm1=form))
    _page(pdf, b"/Fm1 Do", pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm1=form)))
    return _save(pdf, dirpath / "bad_formloop.pdf")


def bomb(dirpath: Path, decoded_mib: int = 512) -> Path:
    """A content stream of a few hundred KiB that inflates to ``decoded_mib`` MiB."""
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    parts = [comp.compress(chunk) for _ in range(decoded_mib)]
    parts.append(comp.flush())
    data = b"".join(parts)
    pdf = pikepdf.new()
    page = _page(pdf, b"", pikepdf.Dictionary())
    page.obj.Contents = pdf.make_stream(data, Filter=Name.FlateDecode)
    return _save(pdf, dirpath / "bad_bomb.pdf", stream_decode_level=pikepdf.StreamDecodeLevel.none)


def many_pages(dirpath: Path, pages: int) -> Path:
    pdf = pikepdf.new()
    font = helvetica(pdf)
    res = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    content = pdf.make_stream(b"BT /F1 12 Tf 72 700 Td (turbine) Tj ET")
    for _ in range(pages):
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(Type=Name.Page, MediaBox=[0, 0, 612, 792], Contents=content, Resources=res)
            )
        )
    return _save(pdf, dirpath / f"many_{pages}.pdf")


def _write_raw(path: Path, objs: list[str | None], streams: dict[int, bytes]) -> Path:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for num, body in enumerate(objs, start=1):
        offsets.append(len(out))
        if body is None:
            data = streams[num]
            out += b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (num, len(data), data)
        else:
            out += b"%d 0 obj\n%s\nendobj\n" % (num, body.encode())
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def annotation_appearance(dirpath: Path) -> Path:
    """A FreeText annotation whose appearance stream and /Contents hold the secret."""
    pdf = pikepdf.new()
    font = helvetica(pdf)
    page = _page(
        pdf,
        b"BT /F1 12 Tf 72 700 Td (Page body turbine.) Tj ET",
        pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    appearance = pdf.make_stream(
        f"BT /F1 10 Tf 2 6 Td (Note: {SECRET} turbine) Tj ET".encode(),
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 250, 20],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    annot = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Annot,
            Subtype=Name.FreeText,
            Rect=[72, 600, 322, 620],
            Contents=pikepdf.String(f"Note: {SECRET} turbine"),
            DA=pikepdf.String("/Helv 10 Tf 0 g"),
            F=4,
            AP=pikepdf.Dictionary(N=appearance),
        )
    )
    page.obj.Annots = pdf.make_indirect([annot])
    return _save(pdf, dirpath / "hand_annotation.pdf")


def hidden_under_path_and_image(dirpath: Path) -> Path:
    """Failed redactions drawn as an m/l/h path and as a pasted black image."""
    pdf = pikepdf.new()
    patch = pdf.make_stream(
        zlib.compress(b"\x00" * (8 * 2)),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=8,
        Height=2,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    content = (
        f"BT /F1 12 Tf 72 700 Td (Buyer: {SECRET} for the turbine.) Tj ET\n"
        "BT /F1 12 Tf 72 680 Td (Margin 17 percent on the turbine.) Tj ET\n"
        "0 g 108 697 m 208 697 l 208 710 l 108 710 l h f\n"
        "q 60 0 0 13 112 677 cm /Patch Do Q\n"
    ).encode()
    _page(
        pdf,
        content,
        pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=helvetica(pdf)), XObject=pikepdf.Dictionary(Patch=patch)
        ),
    )
    return _save(pdf, dirpath / "hand_hidden_path_image.pdf")
