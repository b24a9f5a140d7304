"""PDFs that carry a name where no page text, render or metadata reader looks.

Each builder writes one file with the corpus SECRET in one such place, next to
a visible line with ``turbine`` (a neighbour that must survive):

* ``jpeg_with_metadata``: a photo (Pillow JPEG) whose comment, EXIF (ASCII and
  Windows UTF-16LE tags, with an EXIF thumbnail) and XMP carry the name,
  drawn by reportlab; the pixels show nothing secret;
* ``percent_encoded_links``: reportlab links whose URIs spell the name only
  percent-encoded or with ``+`` for spaces, as LibreOffice and browsers write
  them, and one harmless link;
* ``content_operands``: pikepdf content streams whose non-shown operands spell
  the name as a hex string, with ``#xx`` name escapes or octal escapes;
* ``image_alternates``: an image whose ``/Alternates`` (a printer's choice)
  and ``/OPI`` proxy show and name the customer;
* ``ghostscript_outlines``: the name lettered as filled paths (Ghostscript
  ``-dNoOutputFonts``), no text layer at all; ``ruled_table`` is its
  control: reportlab text in a ruled grid, paths that spell nothing.
"""

from __future__ import annotations

import io
import subprocess
import zlib
from pathlib import Path

import pikepdf
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from tests.corpus.pdf import SECRET
from tests.corpus.pdf.producer_handmade import helvetica

Name = pikepdf.Name
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_VISIBLE = b"BT /F1 12 Tf 72 740 Td (Visible line about the turbine.) Tj ET\n"


def photo_with_metadata() -> tuple[bytes, Image.Image]:
    """A JPEG (its bytes, and its decoded pixels) whose metadata names the customer."""
    img = Image.new("RGB", (400, 200), (200, 220, 240))
    ImageDraw.Draw(img).ellipse((50, 50, 350, 150), fill=(30, 90, 160))
    thumb = io.BytesIO()
    img.resize((80, 40)).save(thumb, "JPEG")
    exif = Image.Exif()
    exif[0x010E] = f"Plant of {SECRET}"  # ImageDescription
    exif[0x013B] = SECRET  # Artist
    exif[0x9C9C] = f"{SECRET} comment".encode("utf-16-le")  # XPComment, as Windows writes it
    xmp = (
        b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
        b"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
        b"xmlns:dc='http://purl.org/dc/elements/1.1/' dc:creator='" + SECRET.encode() + b"'/>"
        b"</rdf:RDF></x:xmpmeta>"
    )
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif.tobytes(), comment=f"Customer {SECRET}".encode())
    data = buf.getvalue()
    # XMP as its own APP1 segment right after SOI.
    data = data[:2] + b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp + data[2:]
    return data, Image.open(io.BytesIO(data)).convert("RGB")


def jpeg_with_metadata(dirpath: Path) -> Path:
    data, _ = photo_with_metadata()
    path = dirpath / "tricks_jpeg_metadata.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 12)
    c.drawString(72, 740, "Visible line about the turbine.")
    c.drawImage(ImageReader(io.BytesIO(data)), 72, 450, width=400, height=200)
    c.showPage()
    c.save()
    return path


#: URIs that name the customer only in encoded form, and one that does not name it.
ENCODED_URIS = (
    "https://portal.example.org/customers/" + SECRET.replace(" ", "%20") + "/orders",
    "https://portal.example.org/search?q=" + SECRET.replace(" ", "+"),
    "https://portal.example.org/c/%4B%65%73%74%72%65%6C%20%44%79%6E%61%6D%69%63%73",
)
HARMLESS_URI = "https://portal.example.org/turbines"


def percent_encoded_links(dirpath: Path) -> Path:
    path = dirpath / "tricks_percent_links.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 12)
    c.drawString(72, 740, "Visible line about the turbine.")
    for n, uri in enumerate((*ENCODED_URIS, HARMLESS_URI)):
        y = 700 - 30 * n
        c.drawString(72, y, f"Portal link {n}")
        c.linkURL(uri, (70, y - 4, 200, y + 12), relative=0)
    c.showPage()
    c.save()
    return path


#: content-stream operands no page text shows, each spelling the name in PDF syntax
OPERAND_TRICKS: dict[str, bytes] = {
    "hex_string_in_properties": b"/Span <</Note <" + SECRET.encode().hex().encode() + b">>> BDC EMC\n",
    "utf16_hex_in_properties": (
        b"/Span <</Note <feff" + SECRET.encode("utf-16-be").hex().encode() + b">>> BDC EMC\n"
    ),
    "escaped_name_tag": b"/" + SECRET.replace(" ", "#20").replace("e", "#65").encode() + b" MP\n",
    "octal_in_unknown_operator": b"BX (\\113estrel\\040Dynamics) zzunknown EX\n",
}


def content_operands(dirpath: Path, trick: str) -> Path:
    pdf = pikepdf.new()
    page = pikepdf.Dictionary(
        Type=Name.Page,
        MediaBox=[0, 0, 612, 792],
        Contents=pdf.make_stream(_VISIBLE + OPERAND_TRICKS[trick]),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf))),
    )
    pdf.pages.append(pikepdf.Page(page))
    path = dirpath / f"tricks_{trick}.pdf"
    pdf.save(path)
    return path


def name_picture(size: tuple[int, int] = (700, 80)) -> Image.Image:
    img = Image.new("L", size, 255)
    ImageDraw.Draw(img).text((10, 12), SECRET, fill=0, font=ImageFont.truetype(DEJAVU, 44))
    return img


def image_alternates(dirpath: Path) -> Path:
    pdf = pikepdf.new()
    picture = name_picture()
    alternate = pdf.make_stream(
        zlib.compress(picture.tobytes()),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=picture.width,
        Height=picture.height,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    plain = Image.new("L", (200, 40), 200)
    image = pdf.make_stream(
        zlib.compress(plain.tobytes()),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=200,
        Height=40,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
        Alternates=[pikepdf.Dictionary(Image=alternate, DefaultForPrinting=True)],
        OPI=pikepdf.Dictionary(
            {"/2.0": pikepdf.Dictionary(Type=Name.OPI, Version=2.0, F=pikepdf.String("/srv/hi/plate.tif"))}
        ),
    )
    page = pikepdf.Dictionary(
        Type=Name.Page,
        MediaBox=[0, 0, 612, 792],
        Contents=pdf.make_stream(_VISIBLE + b"q 200 0 0 40 72 600 cm /Im1 Do Q\n"),
        Resources=pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=helvetica(pdf)), XObject=pikepdf.Dictionary(Im1=image)
        ),
    )
    pdf.pages.append(pikepdf.Page(page))
    path = dirpath / "tricks_image_alternates.pdf"
    pdf.save(path)
    return path


_LETTERED_PS = f"""%!PS
/Helvetica findfont 16 scalefont setfont
72 700 moveto (Order placed by {SECRET} for the turbine.) show
72 660 moveto (Visible line about the turbine.) show
showpage
"""


def ghostscript_outlines(dirpath: Path) -> Path:
    """Ghostscript's pdfwrite with ``-dNoOutputFonts``: every glyph becomes a filled path."""
    src = dirpath / "tricks_outlines.ps"
    src.write_text(_LETTERED_PS, encoding="latin-1")
    path = dirpath / "tricks_outlines.pdf"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=pdfwrite",
            "-dNoOutputFonts",
            f"-sOutputFile={path}",
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def ruled_table(dirpath: Path) -> Path:
    """reportlab text in a ruled grid with a filled header band: paths, but no lettering."""
    path = dirpath / "tricks_ruled_table.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 12)
    c.drawString(72, 740, "Visible line about the turbine.")
    c.setFillGray(0.85)
    c.rect(72, 660, 400, 20, fill=1, stroke=0)
    c.setFillGray(0)
    c.grid([72, 172, 272, 372, 472], [560, 580, 600, 620, 640, 660, 680])
    c.drawString(80, 665, f"Customer {SECRET}")
    c.showPage()
    c.save()
    return path


def _advance(ch: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(stringWidth(ch, "Helvetica", size))


def glyph_order(dirpath: Path, order: str) -> Path:
    """The name drawn glyph by glyph in an order other than reading order.

    ``reversed``: one TJ drawing it last glyph first, kerning back over each
    glyph (content order reads it backwards, a reader sorting by position reads
    it right); ``shuffled``: each glyph in its own text object, in a scrambled
    order, at its place on the line.
    """
    size = 14.0
    places: list[tuple[str, float]] = []
    x = 72.0
    for ch in SECRET:
        places.append((ch, x))
        x += _advance(ch, size)
    if order == "reversed":
        items: list[bytes] = []
        for i, (ch, _) in enumerate(reversed(places)):
            if i:
                back = (_advance(ch, size) + _advance(places[len(places) - i][0], size)) * 1000 / size
                items.append(b"%.3f" % back)
            items.append(b"(" + ch.encode() + b")")
        body = b"BT /F1 14 Tf %.3f 700 Td [" % places[-1][1] + b" ".join(items) + b"] TJ ET\n"
    else:
        scrambled = places[1::2][::-1] + places[0::2]
        body = b"".join(b"BT /F1 14 Tf %.3f 700 Td (%s) Tj ET\n" % (px, ch.encode()) for ch, px in scrambled)
    pdf = pikepdf.new()
    page = pikepdf.Dictionary(
        Type=Name.Page,
        MediaBox=[0, 0, 612, 792],
        Contents=pdf.make_stream(_VISIBLE + body),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf))),
    )
    pdf.pages.append(pikepdf.Page(page))
    path = dirpath / f"tricks_order_{order}.pdf"
    pdf.save(path)
    return path
