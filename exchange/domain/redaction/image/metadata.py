"""Writing frames out with no metadata but the colour profile, and checking that it is so.

Invariants:

* Output files are encoded from fresh frames (see ``pixels.displayable``)
  with explicit encoder options only; the source file's info dict is never
  passed on. The only metadata written is the ICC profile, and only when its
  colour space matches the frame's mode.
* :func:`metadata_left` reads the encoded bytes back with Pillow and lists
  the kinds of metadata found (EXIF, XMP, IPTC, comments, text chunks, TIFF
  tags beyond the image structure); the engine withholds a file when the
  list is not empty. A JPEG must also end at its picture's EOI and carry no
  Multi-Picture index: phones append further pictures (MPF: second view,
  depth map, Ultra HDR gain map) and trailers after the first picture, and
  only that first picture is ever written.
* :func:`jpeg_extras` walks a JPEG's own structure (segments, entropy-coded
  data) to the first picture's EOI; it reads bounded fields only and never
  trusts an offset before checking it against the data it has.
"""

from __future__ import annotations

import io
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, TiffImagePlugin

#: output container per decoded format: (Pillow format, media type, extension; "" keeps the name)
OUTPUT: dict[str, tuple[str, str, str]] = {
    "JPEG": ("JPEG", "image/jpeg", ""),
    "PNG": ("PNG", "image/png", ""),
    "TIFF": ("TIFF", "image/tiff", ""),
    "WEBP": ("WEBP", "image/webp", ""),
    # No HEIF encoder is relied on; JPEG is what every recipient can open.
    "HEIF": ("JPEG", "image/jpeg", ".jpg"),
}

#: TIFF tags that describe the pixels themselves (baseline structure, colour, ICC)
TIFF_STRUCTURE = frozenset(
    {
        254, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 282, 283, 284, 296, 317, 320, 322, 323,
        324, 325, 332, 338, 339, 530, 531, 532, 34675,
    }
)  # fmt: skip
_ICC_SPACE = {"L": b"GRAY", "RGB": b"RGB ", "CMYK": b"CMYK"}
_INFO_KEYS_LEFT = {
    "exif": "EXIF",
    "xmp": "XMP",
    "XML:com.adobe.xmp": "XMP",
    "photoshop": "IPTC",
    "iptc": "IPTC",
    "comment": "comment",
    "COM": "comment",
    "mp": "MPF",
}


def icc_for(mode: str, icc: bytes | None) -> bytes | None:
    """The profile when it describes ``mode``'s colour space, else None (a wrong profile is worse)."""
    if not icc or len(icc) < 20:
        return None
    return icc if icc[16:20] == _ICC_SPACE.get(mode) else None


def encode(frames: Sequence[Image.Image], kind: str, icc: bytes | None) -> bytes:
    """Encode ``frames`` into the output container for the decoded ``kind``."""
    fmt = OUTPUT[kind][0]
    first = frames[0]
    if fmt == "WEBP":
        frames = [f if f.mode == "RGB" else f.convert("RGB") for f in frames]
        first = frames[0]
    options: dict[str, object] = {}
    profile = icc_for(first.mode, icc)
    if profile is not None:
        options["icc_profile"] = profile
    if fmt == "JPEG":
        options.update(quality=92, optimize=False)
    elif fmt == "PNG":
        options.update(compress_level=6)
    elif fmt == "TIFF":
        options.update(compression="tiff_adobe_deflate")
    elif fmt == "WEBP":
        options.update(quality=92, method=4)
    if len(frames) > 1:
        options.update(save_all=True, append_images=list(frames[1:]))
    buf = io.BytesIO()
    first.save(buf, format=fmt, **options)
    return buf.getvalue()


def metadata_left(data: bytes) -> list[str]:
    """Kinds of metadata in the encoded image ``data`` (see module docstring); [] when clean."""
    found: set[str] = set()
    with Image.open(io.BytesIO(data)) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            for key, kind in _INFO_KEYS_LEFT.items():
                if image.info.get(key):
                    found.add(kind)
            if len(image.getexif()) and image.format != "TIFF":
                found.add("EXIF")
            if getattr(image, "text", None):
                found.add("text chunks")
            if isinstance(image, TiffImagePlugin.TiffImageFile):
                extra = set(image.tag_v2.keys()) - TIFF_STRUCTURE
                if extra:
                    found.add("TIFF tags")
        if image.format in ("JPEG", "MPO"):
            extras = jpeg_extras(data)
            if extras is None or extras.pictures or extras.other_bytes:
                found.add("data after the image")
    return sorted(found)


@dataclass(frozen=True, slots=True)
class JpegExtras:
    """What a JPEG file holds beyond its first (primary) picture."""

    #: further pictures the MPF index locates after the primary one (second view, depth or gain map)
    pictures: int
    #: bytes after the primary picture's EOI that are none of those pictures (trailers, videos)
    other_bytes: int


_SOI = b"\xff\xd8\xff"
#: markers without a length: TEM and the restart markers RST0-7
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_EOI, _SOS, _APP2 = 0xD9, 0xDA, 0xE2
_MPF = b"MPF\x00"
#: the MP Entry tag of the MP Index IFD (CIPA DC-007): 16 bytes per picture
_MP_ENTRY = 0xB002

Data = bytes | mmap.mmap


def jpeg_extras(data: Data) -> JpegExtras | None:
    """Further pictures and other bytes after the primary picture of the JPEG ``data``.

    None when ``data`` is no JPEG or its primary picture has no EOI
    (truncated or damaged; the decoder decides what that means).
    """
    if data[:3] != _SOI:
        return None
    walked = _primary(data)
    if walked is None:
        return None
    end, mpf = walked
    size = len(data)
    pictures = [] if mpf is None else [(s, e) for s, e in _mpf_pictures(data, *mpf) if s >= end and e <= size]
    covered, reach = 0, end
    for start, stop in sorted(set(pictures)):
        covered += max(0, stop - max(start, reach))
        reach = max(reach, stop)
    return JpegExtras(len(set(pictures)), size - end - covered)


def _primary(data: Data) -> tuple[int, tuple[int, int] | None] | None:
    """(offset just past the first EOI, the first MPF APP2 body as (start, end) or None)."""
    size, pos, mpf = len(data), 2, None
    while pos + 1 < size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == _EOI:
            return pos + 2, mpf
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > size:
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return None
        body, pos = pos + 4, pos + 2 + length
        if marker == _APP2 and mpf is None and data[body : body + 4] == _MPF:
            mpf = (body + 4, min(pos, size))
        if marker == _SOS:
            pos = _after_scan(data, pos)
    return None


def _after_scan(data: Data, pos: int) -> int:
    """The offset of the first marker after entropy-coded data starting at ``pos``."""
    while True:
        found = data.find(b"\xff", pos)
        if found < 0 or found + 1 >= len(data):
            return len(data)
        following = data[found + 1]
        # A stuffed zero and the restart markers belong to the scan; 0xFF fills precede a marker.
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = found + 2
        elif following == 0xFF:
            pos = found + 1
        else:
            return found


def _mpf_pictures(data: Data, base: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each picture but the primary one in an MP Index at ``data[base:end]``.

    Offsets in the index count from ``base`` (its TIFF-style header); the
    primary picture's entry has offset 0. Only entries that point at an SOI
    are pictures; the rest is counted as other bytes by the caller.
    """
    header = data[base : base + 8]
    if header[:4] == b"II*\x00":
        order = "<"
    elif header[:4] == b"MM\x00*":
        order = ">"
    else:
        return []
    (ifd,) = struct.unpack(order + "I", header[4:8])
    start = base + ifd
    if start + 2 > end:
        return []
    (count,) = struct.unpack(order + "H", data[start : start + 2])
    pictures: list[tuple[int, int]] = []
    for index in range(count):
        entry = start + 2 + 12 * index
        if entry + 12 > end:
            break
        tag, kind, length, value = struct.unpack(order + "HHII", data[entry : entry + 12])
        if tag != _MP_ENTRY or kind != 7:  # 7: UNDEFINED bytes
            continue
        table = base + value
        for row in range(min(length, end - table) // 16 if table < end else 0):
            _, picture_size, offset, _, _ = struct.unpack(
                order + "IIIHH", data[table + 16 * row : table + 16 * row + 16]
            )
            first = base + offset
            if offset and picture_size and data[first : first + 3] == _SOI:
                pictures.append((first, first + picture_size))
    return pictures
