"""PDFs whose secrets are pixels: scans, embedded photos, masks, forms, OCR layers.

Every page picture is drawn here with Pillow (DejaVu Sans, large enough for
OCR at small sizes) and wrapped by an independent producer: img2pdf (a scan
as a PDF, no re-encoding), reportlab ``drawImage``, Ghostscript (``viewjpeg``),
LibreOffice (HTML with an ``<img>``), Tesseract's own PDF renderer (image plus
an invisible text layer) and hand-made pikepdf objects for masks, forms and
inline images. A font without widths forces the per-page fallback.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zlib
from collections.abc import Sequence
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from tests.corpus.pdf.producer_libreoffice import soffice

CUSTOMER = "Kestrel Dynamics"
PART = "KD-4471-NX"
EMAIL = "anna.weber@kestrel-dyn.de"
#: values that must be gone from every output
SECRETS = (CUSTOMER, PART, EMAIL)
#: words that must survive
KEPT = ("turbine", "housing", "delivery")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

Name = pikepdf.Name


def scan_lines(page: int = 1) -> list[str]:
    return [
        f"Purchase order {4100 + page} page {page}",
        f"Customer {CUSTOMER} GmbH",
        f"Part {PART} magnet rotor",
        f"Contact {EMAIL}",
        "turbine housing delivery",
    ]


def draw_text(lines: Sequence[str], size: tuple[int, int] = (900, 420), font_px: int = 30) -> Image.Image:
    """Black text on white, one line per entry, as a scanner would see a printed page."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, font_px)
    y = font_px
    for line in lines:
        draw.text((font_px, y), line, fill=0, font=font)
        y += int(font_px * 1.8)
    return img


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def img2pdf_scan(dirpath: Path, pages: int = 3, name: str = "scan_img2pdf.pdf") -> Path:
    """A multi-page scan: each page one PNG, wrapped by img2pdf (no PDF text at all)."""
    path = dirpath / name
    images = [_png(draw_text(scan_lines(n))) for n in range(1, pages + 1)]
    layout = img2pdf.get_fixed_dpi_layout_fun((100, 100))
    path.write_bytes(img2pdf.convert(images, layout_fun=layout))
    return path


def sideways_scan(dirpath: Path) -> Path:
    """A page scanned sideways (text turned 90 degrees), wrapped by img2pdf as it is."""
    path = dirpath / "scan_sideways.pdf"
    page = draw_text(scan_lines(1)).rotate(90, expand=True, fillcolor=255)
    path.write_bytes(img2pdf.convert([_png(page)], layout_fun=img2pdf.get_fixed_dpi_layout_fun((100, 100))))
    return path


def reportlab_photo(dirpath: Path) -> Path:
    """A born-digital page (real text) with an embedded label picture holding the secrets."""
    path = dirpath / "reportlab_photo.pdf"
    label = draw_text([f"Ship to {CUSTOMER}", f"Part {PART}"], size=(700, 160), font_px=34)
    c = canvas.Canvas(str(path), pagesize=(595, 842))
    c.setFont("Helvetica", 12)
    c.drawString(72, 780, "Packing note for the turbine housing delivery.")
    c.drawImage(ImageReader(io.BytesIO(_png(label.convert("RGB")))), 72, 560, width=420, height=96)
    c.drawString(72, 520, "The photo above shows the crate label.")
    c.showPage()
    c.save()
    return path


def ghostscript_scan(dirpath: Path) -> Path:
    """A JPEG scan placed on a page by Ghostscript's ``viewjpeg.ps``."""
    gs = shutil.which("gs")
    if gs is None:
        raise RuntimeError("Ghostscript is required for the scan corpus (scripts install it)")
    jpeg = dirpath / "gs_scan.jpg"
    draw_text(scan_lines(1)).convert("RGB").save(jpeg, format="JPEG", quality=92)
    path = dirpath / "scan_ghostscript.pdf"
    viewjpeg = next(Path("/usr/share/ghostscript").glob("*/lib/viewjpeg.ps"), None)
    if viewjpeg is None:
        raise RuntimeError("Ghostscript's viewjpeg.ps is missing")
    subprocess.run(
        [
            gs,
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            f"--permit-file-read={jpeg}",
            "-sDEVICE=pdfwrite",
            "-dAutoFilterColorImages=false",
            "-dColorImageFilter=/FlateEncode",
            f"-sOutputFile={path}",
            str(viewjpeg),
            "-c",
            f"({jpeg}) << /PageSize 2 index viewJPEGgetsize 2 array astore >> setpagedevice viewJPEG",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def libreoffice_image(dirpath: Path) -> Path:
    """LibreOffice Writer's PDF of an HTML page with an ``<img>`` holding the secrets."""
    workdir = dirpath / "lo-img"
    workdir.mkdir(exist_ok=True)
    (workdir / "label.png").write_bytes(_png(draw_text(scan_lines(1), font_px=30)))
    html = workdir / "lo_image.html"
    html.write_text(
        "<html><body><p>Inspection report for the turbine housing delivery.</p>"
        '<p><img src="label.png" width="600" height="280"></p>'
        "<p>End of report.</p></body></html>",
        encoding="utf-8",
    )
    subprocess.run(
        [
            soffice(),
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(dirpath / 'lo-img-profile').as_uri()}",
            "--convert-to",
            "pdf:writer_web_pdf_Export",
            "--outdir",
            str(workdir),
            str(html),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return workdir / "lo_image.pdf"


def tesseract_sandwich(dirpath: Path) -> Path:
    """Tesseract's own PDF: the page image with an invisible OCR text layer over it."""
    png = dirpath / "sandwich.png"
    draw_text(scan_lines(1)).save(png, format="PNG", dpi=(100, 100))
    base = dirpath / "scan_tesseract"
    subprocess.run(
        ["tesseract", str(png), str(base), "-l", "eng", "pdf"], check=True, capture_output=True, timeout=120
    )
    return base.with_suffix(".pdf")


def _image_stream(pdf: pikepdf.Pdf, img: Image.Image, **extra: object) -> pikepdf.Stream:
    space = {"L": Name.DeviceGray, "RGB": Name.DeviceRGB}[img.mode]
    stream = pdf.make_stream(
        zlib.compress(img.tobytes()),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=img.width,
        Height=img.height,
        ColorSpace=space,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    for key, value in extra.items():
        stream[f"/{key}"] = value
    return stream


def _helvetica(pdf: pikepdf.Pdf) -> pikepdf.Object:
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding
        )
    )


def _page(pdf: pikepdf.Pdf, content: bytes, resources: pikepdf.Dictionary) -> None:
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(content),
                Resources=resources,
            )
        )
    )


def masked_images(dirpath: Path) -> Path:
    """Three masks: the secret spelled only by a /SMask over a solid image, a photo with a
    /SMask, and a stencil /ImageMask spelling the part number."""
    pdf = pikepdf.new()
    shape = draw_text([f"Customer {CUSTOMER}"], size=(640, 70), font_px=34)
    # Solid blue samples; the soft mask alone makes the letters (255 where ink is).
    spelled = _image_stream(
        pdf,
        Image.new("RGB", shape.size, (10, 20, 120)),
        SMask=_image_stream(pdf, Image.eval(shape, lambda v: 255 - v)),
    )
    photo = draw_text([f"Contact {EMAIL}"], size=(640, 70), font_px=30).convert("RGB")
    with_alpha = _image_stream(pdf, photo, SMask=_image_stream(pdf, Image.new("L", photo.size, 230)))
    stencil_img = draw_text([f"Part {PART} rotor"], size=(640, 70), font_px=34).convert("1")
    stencil = pdf.make_stream(
        zlib.compress(stencil_img.tobytes()),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=stencil_img.width,
        Height=stencil_img.height,
        ImageMask=True,
        BitsPerComponent=1,
        Filter=Name.FlateDecode,
    )
    content = (
        b"BT /F1 12 Tf 72 740 Td (Masked pictures of the turbine housing delivery.) Tj ET\n"
        b"q 384 0 0 42 72 640 cm /Spelled Do Q\n"
        b"q 384 0 0 42 72 560 cm /Photo Do Q\n"
        b"q 0 0.3 0 rg 384 0 0 42 72 480 cm /Stencil Do Q\n"
    )
    res = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=_helvetica(pdf)),
        XObject=pikepdf.Dictionary(Spelled=spelled, Photo=with_alpha, Stencil=stencil),
    )
    _page(pdf, content, res)
    path = dirpath / "hand_masks.pdf"
    pdf.save(path)
    return path


def form_and_inline(dirpath: Path) -> Path:
    """An image inside a Form XObject (drawn twice) and an inline image in the page."""
    pdf = pikepdf.new()
    inner = _image_stream(pdf, draw_text([f"Customer {CUSTOMER}"], size=(640, 70), font_px=34))
    form = pdf.make_stream(
        b"q 384 0 0 42 0 0 cm /Im0 Do Q",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 384, 42],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=inner)),
    )
    inline = draw_text([f"Part {PART} rotor"], size=(420, 60), font_px=30)
    inline_data = zlib.compress(inline.tobytes())
    content = (
        b"BT /F1 12 Tf 72 740 Td (Letterhead pictures for the turbine housing delivery.) Tj ET\n"
        b"q 1 0 0 1 72 640 cm /Fm0 Do Q\nq 1 0 0 1 72 300 cm /Fm0 Do Q\n"
        b"q 252 0 0 36 72 560 cm\nBI /W %d /H %d /CS /G /BPC 8 /F /Fl ID\n"
        % (inline.width, inline.height)
        + inline_data
        + b"\nEI Q\n"
    )
    res = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=_helvetica(pdf)), XObject=pikepdf.Dictionary(Fm0=form)
    )
    _page(pdf, content, res)
    path = dirpath / "hand_form_inline.pdf"
    pdf.save(path)
    return path


def widthless_font(dirpath: Path, photo: bool = False) -> Path:
    """Page 1 in a non-embedded font with no /Widths (cannot be edited in place); page 2 normal.

    With ``photo``, page 1 also draws a label picture ("Crate label 7731").
    """
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font, Subtype=Name.TrueType, BaseFont=Name("/Verdana"), Encoding=Name.WinAnsiEncoding
        )
    )
    text = f"Order for {CUSTOMER} turbine housing delivery"
    content = (
        f"BT /V 16 Tf 72 700 Td ({text}) Tj 0 -30 Td (Spare part {PART} for the turbine) Tj ET"
    ).encode()
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(V=font))
    if photo:
        label = _image_stream(pdf, draw_text(["Crate label 7731"], size=(640, 70), font_px=34))
        resources.XObject = pikepdf.Dictionary(Label=label)
        content += b"\nq 384 0 0 42 72 560 cm /Label Do Q"
    _page(pdf, content, resources)
    _page(
        pdf,
        f"BT /F1 14 Tf 72 700 Td (Second page: {CUSTOMER} turbine) Tj ET".encode(),
        pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=_helvetica(pdf))),
    )
    path = dirpath / ("hand_widthless_photo.pdf" if photo else "hand_widthless.pdf")
    pdf.save(path)
    return path


def pattern_image(dirpath: Path) -> Path:
    """The customer name as an image inside a tiling pattern cell, painted as a fill."""
    pdf = pikepdf.new()
    picture = _image_stream(pdf, draw_text([f"Customer {CUSTOMER}"], size=(640, 70), font_px=34))
    cell = pdf.make_stream(
        b"q 384 0 0 42 0 0 cm /Im0 Do Q",
        Type=Name.Pattern,
        PatternType=1,
        PaintType=1,
        TilingType=1,
        BBox=[0, 0, 384, 42],
        XStep=384,
        YStep=42,
        Matrix=[1, 0, 0, 1, 72, 600],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=picture)),
    )
    content = (
        b"BT /F1 12 Tf 72 740 Td (A patterned label on the turbine housing delivery.) Tj ET\n"
        b"q /Pattern cs /P0 scn 72 600 384 42 re f Q\n"
    )
    res = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=_helvetica(pdf)), Pattern=pikepdf.Dictionary(P0=cell))
    _page(pdf, content, res)
    path = dirpath / "hand_pattern_image.pdf"
    pdf.save(path)
    return path


def explicit_and_key_masks(dirpath: Path) -> Path:
    """The part number spelled by an explicit /Mask stream over a solid image, and the
    customer name in an image whose magenta background a colour-key /Mask hides."""
    pdf = pikepdf.new()
    letters = draw_text([f"Part {PART} rotor"], size=(640, 70), font_px=34).convert("1")
    mask = pdf.make_stream(
        zlib.compress(letters.tobytes()),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=letters.width,
        Height=letters.height,
        ImageMask=True,
        BitsPerComponent=1,
        Filter=Name.FlateDecode,
    )
    spelled = _image_stream(pdf, Image.new("RGB", letters.size, (120, 10, 10)), Mask=mask)
    text = draw_text([f"Customer {CUSTOMER}"], size=(640, 70), font_px=34)
    keyed_img = Image.merge("RGB", (text, Image.eval(text, lambda v: 0), text))  # black on magenta
    keyed = _image_stream(pdf, keyed_img, Mask=[250, 255, 0, 5, 250, 255])
    content = (
        b"BT /F1 12 Tf 72 740 Td (Masked labels for the turbine housing delivery.) Tj ET\n"
        b"q 384 0 0 42 72 640 cm /Spelled Do Q\n"
        b"q 384 0 0 42 72 560 cm /Keyed Do Q\n"
    )
    res = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=_helvetica(pdf)),
        XObject=pikepdf.Dictionary(Spelled=spelled, Keyed=keyed),
    )
    _page(pdf, content, res)
    path = dirpath / "hand_mask_kinds.pdf"
    pdf.save(path)
    return path


def misread_layer(dirpath: Path) -> Path:
    """A scan whose invisible OCR layer misreads the name ("Kestre1 Dynamlcs"): each layer
    word is laid exactly over its word in the picture (reportlab ``drawImage`` + mode 3)."""
    path = dirpath / "scan_misread_layer.pdf"
    lines = scan_lines(1)
    picture = draw_text(lines)
    font = ImageFont.truetype(FONT, 30)
    scale = 72 / 100  # the picture is placed at 100 dpi
    width, height = picture.size[0] * scale, picture.size[1] * scale
    c = canvas.Canvas(str(path), pagesize=(width, height))
    c.drawImage(ImageReader(io.BytesIO(_png(picture.convert("RGB")))), 0, 0, width=width, height=height)
    misread = {"Kestrel": "Kestre1", "Dynamics": "Dynamlcs"}
    for i, line in enumerate(lines):
        top = 30 + i * 54
        x = 30.0
        for word in line.split(" "):
            shown = misread.get(word, word)
            px_width = font.getlength(word)
            size = 30 * scale
            text = c.beginText()
            text.setTextRenderMode(3)
            text.setFont("Helvetica", size)
            natural = c.stringWidth(shown, "Helvetica", size)
            text.setHorizScale(100.0 * px_width * scale / natural)
            text.setTextOrigin(x * scale, height - (top + 24) * scale)
            text.textOut(shown)
            c.drawText(text)
            x += font.getlength(word + " ")
    c.showPage()
    c.save()
    return path
