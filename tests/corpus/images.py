"""Generated test images: Pillow-drawn labels and tables with every kind of metadata.

Nothing here is committed as a binary: each function draws its image into a
directory at test time. Text is drawn with DejaVu Sans (Latin) and Noto Sans
CJK (Chinese); the metadata is what cameras and editors leave behind: EXIF
with GPS, an orientation tag, a maker note and a thumbnail, XMP, IPTC (added
by exiftool), comments, PNG text chunks, TIFF description tags and an ICC
profile (which must survive).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pillow_heif
from PIL import Image, ImageCms, ImageDraw, ImageFont, PngImagePlugin, TiffImagePlugin

pillow_heif.register_heif_opener()

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

CUSTOMER = "Kestrel Dynamics GmbH"
PART = "KD-4711-XY"
EMAIL = "j.weber@kestrel-dynamics.de"
CUSTOMER_CN = "宁波瀚海磁电有限公司"
#: words that are no secret and must still be readable after redaction
KEPT = ("turbine", "Bremen", "delivery")
XMP_SECRET = "XMPSECRETVALUE"
GPS_LAT = (52.0, 31.0, 12.0)

LINES = (
    f"Customer: {CUSTOMER}",
    f"Part {PART} for the turbine",
    f"Contact {EMAIL}",
    "delivery to Bremen in May",
)


def font(size: int, cjk: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(NOTO_CJK if cjk else DEJAVU, size)


def label(
    lines: tuple[str, ...] = LINES,
    *,
    size: int = 26,
    angle: float = 0,
    ink: int = 0,
    paper: int = 255,
    cjk: bool = False,
    mode: str = "RGB",
) -> Image.Image:
    """Lines of text on plain paper, turned ``angle`` degrees counter-clockwise, with a border."""
    face = font(size, cjk)
    width = max(int(face.getlength(line)) for line in lines) + 2 * size
    step = int(size * 1.6)
    card = Image.new("L", (width, step * len(lines) + size), paper)
    draw = ImageDraw.Draw(card)
    for index, line in enumerate(lines):
        draw.text((size, size // 2 + index * step), line, font=face, fill=ink)
    if angle:
        card = card.rotate(angle, expand=True, fillcolor=paper, resample=Image.Resampling.BICUBIC)
    sheet = Image.new("L", (card.width + 60, card.height + 60), paper)
    sheet.paste(card, (30, 30))
    return sheet.convert(mode)


def table(size: int = 22) -> Image.Image:
    """A ruled table whose customer cell wraps the name over two lines."""
    face = font(size)
    rows = [
        ("Item", "Customer", "Qty"),
        ("Rotor", "Kestrel Dynamics", "12"),
        ("", "GmbH", ""),
        ("Stator", "Bremen works", "4"),
    ]
    cols = (20, 200, 560)
    step = int(size * 2)
    image = Image.new("RGB", (700, step * len(rows) + 40), "white")
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        y = 20 + r * step
        if r != 2:
            draw.line((10, y - 6, 690, y - 6), fill="black", width=2)
        for x, cell in zip(cols, row, strict=True):
            draw.text((x, y), cell, font=face, fill="black")
    return image


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "KestrelCam"  # Make
    exif[0x0110] = "Model K-1"  # Model
    exif[0x013B] = f"Photo by {CUSTOMER}"  # Artist
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x927C] = b"MAKERNOTE " + CUSTOMER.encode()  # maker note
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + EMAIL.encode()  # user comment
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LAT
    gps[3] = "E"
    gps[4] = (8.0, 48.0, 1.0)
    return exif


def xmp_packet() -> bytes:
    return (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>' + XMP_SECRET.encode() + b"</dc:creator>"
        b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def add_iptc(path: Path) -> None:
    subprocess.run(
        [
            "exiftool",
            "-q",
            "-overwrite_original",
            f"-IPTC:By-line={CUSTOMER}",
            "-IPTC:Keywords=secret",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def jpeg_with_metadata(directory: Path, image: Image.Image | None = None, name: str = "photo.jpg") -> Path:
    """A JPEG whose pixels are stored turned; EXIF orientation 6 makes them upright.

    Orientation 6 means "turn 90 degrees clockwise to display", so the stored
    pixels are the upright label turned 90 degrees counter-clockwise.
    """
    upright = image if image is not None else label()
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    thumb = io.BytesIO()
    stored.resize((stored.width // 8, stored.height // 8)).save(thumb, "JPEG")
    path = directory / name
    stored.save(
        path,
        "JPEG",
        quality=95,
        exif=camera_exif(orientation=6),
        icc_profile=srgb_icc(),
        comment=f"comment {CUSTOMER}".encode(),
        xmp=xmp_packet(),
    )
    add_iptc(path)
    # exiftool also embeds the thumbnail, as cameras do.
    thumb_path = directory / f"{name}.thumb.jpg"
    thumb_path.write_bytes(thumb.getvalue())
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-ThumbnailImage<={thumb_path}", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def png_with_text(directory: Path, image: Image.Image | None = None, name: str = "label.png") -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", CUSTOMER)
    info.add_itxt("Comment", f"part {PART}", lang="en")
    info.add_text("XML:com.adobe.xmp", xmp_packet().decode())
    path = directory / name
    (image if image is not None else label()).save(
        path, "PNG", pnginfo=info, icc_profile=srgb_icc(), exif=camera_exif()
    )
    return path


def tiff_pages(directory: Path, pages: list[Image.Image], name: str = "scan.tif") -> Path:
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[270] = f"scan for {CUSTOMER}"  # ImageDescription
    tags[315] = CUSTOMER  # Artist
    tags[305] = "ScannerSoft 1.0"  # Software
    path = directory / name
    pages[0].save(
        path,
        "TIFF",
        save_all=True,
        append_images=pages[1:],
        tiffinfo=tags,
        compression="tiff_lzw",
        icc_profile=srgb_icc(),
    )
    return path


def webp_with_metadata(directory: Path, image: Image.Image | None = None, name: str = "label.webp") -> Path:
    path = directory / name
    (image if image is not None else label()).save(
        path, "WEBP", quality=95, exif=camera_exif(), xmp=xmp_packet(), icc_profile=srgb_icc()
    )
    return path


def heic(directory: Path, image: Image.Image | None = None, name: str = "label.heic") -> Path:
    path = directory / name
    (image if image is not None else label()).save(
        path, "HEIF", quality=95, exif=camera_exif(), xmp=xmp_packet(), icc_profile=srgb_icc()
    )
    return path


def pixel_bomb_png(directory: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    path = directory / "bomb.png"
    path.write_bytes(data)
    return path


def truncated(directory: Path, source: Path) -> Path:
    data = source.read_bytes()
    path = directory / f"truncated{source.suffix}"
    path.write_bytes(data[: len(data) // 2])
    return path
