"""Resource limits for reading untrusted PDFs, and bounded stream decoding.

Threat assumptions: the applicant controls every byte of the input. A PDF can
declare a 1 KiB Flate stream that inflates to gigabytes, nest Form XObjects
thousands deep, or claim millions of pages. Every decode in this package goes
through :func:`decoded_stream`, which proves the decoded size is under
``PdfLimits.max_decoded_stream_bytes`` *before* anything large is allocated;
exceeding a limit raises :class:`UnsupportedFile` with a one-line message.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass

import pikepdf

from exchange.domain.errors import UnsupportedFile


@dataclass(frozen=True, slots=True)
class PdfLimits:
    #: largest input file accepted at all.
    max_input_bytes: int = 256 * 2**20
    #: pages per document; processing is page by page, so this bounds time, not memory.
    max_pages: int = 5000
    #: decoded size of any one stream (content, form, image, CMap).
    max_decoded_stream_bytes: int = 64 * 2**20
    #: Form XObject / outline / structure-tree nesting depth.
    max_nesting_depth: int = 24
    #: content-stream operators per page, all forms included.
    max_operators_per_page: int = 2_000_000
    #: pixels of one image that would have to be repainted.
    max_image_pixels: int = 60_000_000


_FLATE = {"/FlateDecode", "/Fl"}
_AHX = {"/ASCIIHexDecode", "/AHx"}
_A85 = {"/ASCII85Decode", "/A85"}
_RL = {"/RunLengthDecode", "/RL"}
_LZW = {"/LZWDecode", "/LZW"}
# Worst-case expansion factor of LZW with 12-bit codes; used only as an upper bound.
_LZW_MAX_RATIO = 4096
_MAX_RATIO = {
    **dict.fromkeys(_FLATE, 1032),
    **dict.fromkeys(_AHX, 1),
    **dict.fromkeys(_A85, 1),
    **dict.fromkeys(_RL, 128),
    **dict.fromkeys(_LZW, _LZW_MAX_RATIO),
}
_HEX_JUNK = re.compile(rb"[^0-9A-Fa-f]")


def stream_filters(stream: pikepdf.Object) -> list[str]:
    filt = stream.get("/Filter")
    if filt is None:
        return []
    if isinstance(filt, pikepdf.Array):
        return [str(f) for f in filt]
    return [str(filt)]


def _too_big(limit: int) -> UnsupportedFile:
    return UnsupportedFile(
        f"a stream in the PDF decodes to more than {limit // 2**20} MiB (possible decompression bomb)"
    )


def _inflate(data: bytes, limit: int) -> bytes:
    dec = zlib.decompressobj()
    try:
        out = dec.decompress(data, limit + 1)
    except zlib.error:
        # Damaged Flate data: qpdf decodes what it can; the bound has been kept either way.
        return b""
    if len(out) > limit or dec.unconsumed_tail:
        raise _too_big(limit)
    return out


def run_length_decode(data: bytes, limit: int) -> bytes:
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        length = data[i]
        if length == 128:
            break
        if length < 128:
            out += data[i + 1 : i + 2 + length]
            i += 2 + length
        else:
            if i + 1 < n:
                out += bytes([data[i + 1]]) * (257 - length)
            i += 2
        if len(out) > limit:
            raise _too_big(limit)
    return bytes(out)


def check_stream_size(stream: pikepdf.Object, limits: PdfLimits) -> None:
    """Raise UnsupportedFile unless ``stream`` decodes within the limit.

    Filters we can decode cheaply (Flate, ASCIIHex, ASCII85, RunLength) are
    decoded here with an output cap; LZW is bounded by its worst-case ratio.
    Image codecs (DCT, JPX, CCITT, JBIG2) are left to their own checks.
    """
    limit = limits.max_decoded_stream_bytes
    filters = stream_filters(stream)
    # Cheap proof first: the worst-case expansion of every filter in the chain
    # (deflate cannot exceed 1032:1) times the stored length is under the limit.
    worst = 1
    for name in filters:
        worst *= _MAX_RATIO.get(name, 0)
    length = stream.get("/Length")
    if worst and isinstance(length, int) and length >= 0 and length * worst <= limit:
        return
    raw = stream.read_raw_bytes()
    if worst and len(raw) * worst <= limit:
        return
    data = raw
    for name in filters:
        if name in _FLATE:
            data = _inflate(data, limit)
        elif name in _AHX:
            digits = _HEX_JUNK.sub(b"", data.split(b">")[0])
            if len(digits) % 2:
                digits += b"0"
            data = bytes.fromhex(digits.decode("ascii"))
        elif name in _A85:
            try:
                text = data.strip()
                if not text.startswith(b"<~"):
                    text = b"<~" + text
                if not text.endswith(b"~>"):
                    text += b"~>"
                data = base64.a85decode(text, adobe=True, ignorechars=b" \t\n\r\x0b\x0c")
            except ValueError:
                return
        elif name in _RL:
            data = run_length_decode(data, limit)
        elif name in _LZW:
            if len(data) * _LZW_MAX_RATIO > limit:
                raise _too_big(limit)
            return
        else:
            return
        if len(data) > limit:
            raise _too_big(limit)
    if len(data) > limit:
        raise _too_big(limit)


def decoded_stream(stream: pikepdf.Object, limits: PdfLimits) -> bytes:
    """The fully decoded data of ``stream``, after proving it is bounded."""
    check_stream_size(stream, limits)
    try:
        return bytes(stream.read_bytes())
    except pikepdf.PdfError as exc:
        raise UnsupportedFile("a stream in the PDF is damaged and cannot be decoded") from exc
