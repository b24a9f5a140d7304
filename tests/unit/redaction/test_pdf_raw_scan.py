"""The parser-free raw scan decodes every text filter, in chains, and stays bounded."""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Callable

import pikepdf
import pytest

from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.verify import Needles, _lzw, scan_raw
from tests.corpus.pdf import SECRET

PAYLOAD = f"BT /F1 12 Tf 72 700 Td ({SECRET} and the turbine.) Tj ET\n".encode() * 3


def lzw_encode(data: bytes) -> bytes:
    """A plain PDF LZW encoder (EarlyChange 1), independent of the decoder under test."""
    table = {bytes([i]): i for i in range(256)}
    width, next_code = 9, 258
    codes: list[tuple[int, int]] = [(256, 9)]
    cur = b""
    for b in data:
        nxt = cur + bytes([b])
        if nxt in table:
            cur = nxt
            continue
        codes.append((table[cur], width))
        table[nxt] = next_code
        next_code += 1
        if next_code >= (1 << width) and width < 12:
            width += 1
        if next_code >= 4093:
            codes.append((256, width))
            table = {bytes([i]): i for i in range(256)}
            width, next_code = 9, 258
        cur = bytes([b])
    if cur:
        codes.append((table[cur], width))
    codes.append((257, width))
    bits = "".join(format(c, f"0{w}b") for c, w in codes)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))


def rl_encode(data: bytes) -> bytes:
    out = bytearray()
    # Short literal runs, so the plain text is cut by length bytes in the raw file.
    for i in range(0, len(data), 7):
        chunk = data[i : i + 7]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out + b"\x80")


def ahx_encode(data: bytes) -> bytes:
    return data.hex().encode() + b">"


def a85_encode(data: bytes) -> bytes:
    return base64.a85encode(data, adobe=True)[2:]


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "/LZWDecode": lzw_encode,
    "/RunLengthDecode": rl_encode,
    "/ASCIIHexDecode": ahx_encode,
    "/ASCII85Decode": a85_encode,
    "/FlateDecode": zlib.compress,
}

CHAINS = [
    ["/LZWDecode"],
    ["/RunLengthDecode"],
    ["/ASCIIHexDecode"],
    ["/ASCII85Decode"],
    ["/ASCIIHexDecode", "/LZWDecode"],
    ["/ASCII85Decode", "/RunLengthDecode"],
    ["/ASCIIHexDecode", "/FlateDecode"],
    ["/ASCII85Decode", "/LZWDecode"],
    ["/RunLengthDecode", "/FlateDecode"],
]


def _pdf_with_stream(chain: list[str], indirect_filter: bool = False) -> bytes:
    """A PDF written byte by byte (a library would re-encode the stream) with one extra stream."""
    data = PAYLOAD
    for name in reversed(chain):
        data = ENCODERS[name](data)
    filters = ("[" + " ".join(chain) + "]").encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R /Extra 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /Length %d /Filter %s >>\nstream\n%s\nendstream"
        % (len(data), b"5 0 R" if indirect_filter else filters, data),
        filters,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_lzw_decoder_round_trips() -> None:
    for text in (b"", b"a", PAYLOAD, bytes(range(256)) * 40, b"ab" * 5000):
        assert _lzw(lzw_encode(text), 10**7) == text
    assert len(_lzw(lzw_encode(b"x" * 100_000), 1000)) == 1000


@pytest.mark.parametrize("chain", CHAINS, ids=["+".join(c) for c in CHAINS])
def test_secret_behind_any_filter_chain_is_found(chain: list[str]) -> None:
    data = _pdf_with_stream(chain)
    assert SECRET.encode() not in data  # the raw bytes alone do not show it
    assert " ".join(chain).encode() in data  # written as given, not re-encoded
    # qpdf agrees the stream decodes to the payload (the encoders are right).
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert pdf.Root.Extra.read_bytes(pikepdf.StreamDecodeLevel.specialized) == PAYLOAD
    leaks = scan_raw(data, Needles([SECRET]), PdfLimits())
    assert {leak.kind for leak in leaks} == {"raw_stream"}


@pytest.mark.parametrize("chain", [["/ASCIIHexDecode", "/LZWDecode"], ["/LZWDecode"], ["/ASCII85Decode"]])
def test_filters_named_indirectly_are_guessed(chain: list[str]) -> None:
    data = _pdf_with_stream(chain, indirect_filter=True)
    leaks = scan_raw(data, Needles([SECRET]), PdfLimits())
    assert {leak.kind for leak in leaks} == {"raw_stream"}


def test_raw_decoding_is_bounded() -> None:
    bomb = lzw_encode(b"\x00" * 200_000)
    assert len(_lzw(bomb, 2**12)) == 2**12
    data = _pdf_with_stream(["/ASCIIHexDecode"])
    # A tiny limit truncates instead of allocating; nothing is found beyond it.
    assert scan_raw(data, Needles([SECRET]), PdfLimits(max_decoded_stream_bytes=10)) == []
