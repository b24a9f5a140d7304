"""Writing frames out with no metadata but the colour profile, and checking that it is so.

Invariants:

* Output files are encoded from fresh frames (see ``pixels.displayable``)
  with explicit encoder options only; the source file's info dict is never
  passed on. The only metadata written is the ICC profile, and only when its
  colour space matches the frame's mode.
* :func:`metadata_left` reads the encoded bytes back with Pillow and lists
  the kinds of metadata found (EXIF, XMP, IPTC, comments, text chunks, TIFF
  tags beyond the image structure); the engine withholds a file when the
  list is not empty.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

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
    return sorted(found)
