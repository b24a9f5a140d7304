"""Which videos the video engine claims, from the first bytes alone.

Invariants: a claim is made from container structure only (ISO-BMFF ``ftyp``
brands, an EBML header's DocType), never from a file name; ISO-BMFF files
whose brands say *image* (HEIC, HEIF, AVIF) are left to the image engine,
which comes after this one in the registry; audio-only brands (M4A, M4B) and
Matroska files that are not WebM are refused, since nothing here writes them.
``ffprobe`` still has the last word in ``read``: a claim is not trust.
"""

from __future__ import annotations

import struct

#: ISO-BMFF brands of files that hold (or may hold) a video track
VIDEO_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9",
        b"mp41", b"mp42", b"mp71", b"avc1", b"av01", b"dash", b"msnv", b"MSNV", b"mmp4",
        b"M4V ", b"M4VH", b"M4VP", b"qt  ", b"f4v ", b"XAVC", b"NDAS", b"cmfc", b"cmf2",
        b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gp8", b"3gp9", b"3gg6", b"3g2a", b"3g2b", b"3g2c",
    }
)  # fmt: skip
#: brands of still images in ISO-BMFF (HEIF/HEIC/AVIF): the image engine's
IMAGE_BRANDS = frozenset(
    {
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"mif2", b"msf1",
        b"avif", b"avis", b"miaf", b"MiHE", b"MiHB", b"MiHA", b"jpeg", b"jpgs",
    }
)  # fmt: skip
#: brands of audio-only files: no pixels to redact, and speech cannot be checked
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
#: top-level atoms an old QuickTime file (written before ``ftyp`` existed) starts with
LEGACY_QUICKTIME_ATOMS = frozenset({b"moov", b"wide", b"mdat"})

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_DOCTYPE_ID = 0x4282


def sniff_video(head: bytes) -> str | None:
    """``video/mp4``, ``video/quicktime``, ``video/x-m4v`` or ``video/webm``, else None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if len(head) >= 8 and head[4:8] in LEGACY_QUICKTIME_ATOMS and struct.unpack(">I", head[:4])[0] >= 8:
        return "video/quicktime"
    if head.startswith(_EBML_MAGIC):
        return "video/webm" if ebml_doctype(head) == b"webm" else None
    return None


def _sniff_ftyp(head: bytes) -> str | None:
    (box_size,) = struct.unpack(">I", head[:4])
    major = head[8:12]
    end = min(box_size, len(head)) if box_size >= 16 else 16
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    # An image brand anywhere wins over video brands: HEIF sequences list "iso8"/"mp41" too.
    if major in IMAGE_BRANDS or major in AUDIO_BRANDS or compatible & IMAGE_BRANDS:
        return None
    if not brands & VIDEO_BRANDS:
        return None
    if major == b"qt  ":
        return "video/quicktime"
    if major in (b"M4V ", b"M4VH", b"M4VP"):
        return "video/x-m4v"
    return "video/mp4"


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, next position), None when cut off."""
    if pos >= len(data) or data[pos] == 0:
        return None
    first = data[pos]
    length = 9 - first.bit_length()
    if pos + length > len(data):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def ebml_doctype(head: bytes) -> bytes | None:
    """The DocType of the EBML header at the start of ``head`` ("webm", "matroska"), if readable."""
    header = _vint(head, len(_EBML_MAGIC), keep_marker=False)
    if header is None:
        return None
    size, pos = header
    end = min(len(head), pos + size)
    while pos < end:
        element = _vint(head, pos, keep_marker=True)
        if element is None:
            return None
        element_id, pos = element
        length = _vint(head, pos, keep_marker=False)
        if length is None:
            return None
        value_size, pos = length
        if element_id == _DOCTYPE_ID:
            return head[pos : pos + value_size].rstrip(b"\x00")
        pos += value_size
    return None
