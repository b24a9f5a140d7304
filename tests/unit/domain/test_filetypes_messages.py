"""Upload sniffing names why a file is refused, in one line, and still refuses it.

Text with NUL bytes and UTF-16 without a byte-order mark used to get the
generic "binary content" reason; the applicant could not tell what to fix.
Inputs come from real producers where one exists (iconv, tarfile, sqlite3,
gzip, Pillow), not only from Python's codecs.
"""

from __future__ import annotations

import gzip
import io
import random
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.errors import UnsupportedFile
from exchange.domain.filetypes import CSV, TEXT, sniff_media_type
from exchange.services.uploads import SNIFF_BYTES, check_head

UTF16_REASON = "UTF-16 text without a byte-order mark; save it as UTF-8 or with a BOM"
NUL_REASON = "the text file contains NUL bytes"
BINARY_REASON = "binary content of an unsupported type"
LETTER = "Order 4711 for Kestrel Dynamics GmbH\nDelivery to Bremen, Grüße aus Köln\n" * 40
TABLE = "part;qty;customer\nKD-4711-XY;12;Kestrel\nKD-4712-XY;4;Bremen works\n" * 40


def iconv(text: str, target: str) -> bytes:
    return subprocess.run(
        ["iconv", "-f", "UTF-8", "-t", target],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout


def refusal(data: bytes, name: str) -> str:
    head = data[:SNIFF_BYTES]
    with pytest.raises(UnsupportedFile) as caught:
        sniff_media_type(head, name)
    message = caught.value.message
    # The early check while the upload arrives gives the same reason.
    with pytest.raises(UnsupportedFile) as early:
        check_head(head, name)
    assert early.value.message == message
    assert "\n" not in message and message.startswith(f"{name}: ")
    return message


@pytest.mark.parametrize("target", ["UTF-16LE", "UTF-16BE"])
@pytest.mark.parametrize("text", [LETTER, TABLE, "short"])
def test_utf16_without_bom_is_named(text: str, target: str) -> None:
    data = iconv(text, target)
    assert not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert refusal(data, "letter.txt") == f"letter.txt: {UTF16_REASON}"


def test_utf16_cut_inside_a_character_at_the_sniff_limit_is_still_named() -> None:
    data = iconv(LETTER * 4, "UTF-16LE")
    assert len(data) > SNIFF_BYTES
    assert UTF16_REASON in refusal(data[: SNIFF_BYTES - 1], "cut.txt")


def test_utf16_with_a_bom_is_still_accepted() -> None:
    # iconv's plain "UTF-16" writes a byte-order mark (the text engine reads those).
    assert sniff_media_type(iconv(LETTER, "UTF-16")[:SNIFF_BYTES], "letter.txt") == TEXT
    assert sniff_media_type(iconv(TABLE, "UTF-16")[:SNIFF_BYTES], "parts.csv") == CSV


@pytest.mark.parametrize(
    "data",
    [
        LETTER.encode() + b"\x00" * 6000,  # a log preallocated with NULs, cut short by a crash
        b"Order 4711\x00for Kestrel\n",  # one stray NUL from a bad export
        "客户：宁波瀚海\x00交货地点：不来梅\n".encode(),
    ],
)
def test_text_with_nul_bytes_is_named(data: bytes) -> None:
    message = refusal(data, "export.log")
    assert message.startswith(f"export.log: {NUL_REASON}"), message
    assert "UTF-8" in message


@pytest.mark.parametrize("data", [b"", b"plain text\n"])
def test_no_false_reason_for_empty_or_plain_text(data: bytes) -> None:
    if data:
        assert sniff_media_type(data, "a.txt") == TEXT
    else:
        assert "empty" in refusal(data, "a.txt")


def tar_archive(tmp_path: Path) -> bytes:
    member = tmp_path / "letter.txt"
    member.write_text(LETTER * 10)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(member, arcname="letter.txt")
    return buf.getvalue()


def sqlite_database(tmp_path: Path) -> bytes:
    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (customer text, qty int)")
        db.executemany("insert into orders values (?, ?)", [("Kestrel Dynamics GmbH", n) for n in range(200)])
    return path.read_bytes()


def test_binary_files_keep_their_reasons(tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(SNIFF_BYTES - 1)
    expected = {
        # A tar of text files is mostly text and NUL padding: it is named as the archive it is.
        tar_archive(tmp_path): "a tar archive is not supported",
        sqlite_database(tmp_path): BINARY_REASON,
        b"\x00\x01\x02binary": BINARY_REASON,
        noise.replace(b"\x00", b"\x01") + b"\x00": BINARY_REASON,
        gzip.compress(LETTER.encode()): "a gzip archive is not supported",
        Path("/bin/ls").read_bytes()[:SNIFF_BYTES]: "an executable is not supported",
    }
    for data, reason in expected.items():
        message = refusal(data, "upload.bin")
        assert reason in message, message
        assert NUL_REASON not in message and UTF16_REASON not in message


def mpo_bytes() -> bytes:
    buf = io.BytesIO()
    first, second = Image.new("RGB", (64, 48), "white"), Image.new("RGB", (64, 48), "black")
    first.save(buf, "MPO", save_all=True, append_images=[second])
    return buf.getvalue()


def test_mpo_is_a_jpeg_and_its_extension_claims_one() -> None:
    data = mpo_bytes()
    for name in ("phone.mpo", "phone.MPO", "phone.jpg"):
        assert sniff_media_type(data[:SNIFF_BYTES], name) == "image/jpeg"
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    assert "the name says a JPEG image but the content is a PNG image" in refusal(png.getvalue(), "photo.mpo")
