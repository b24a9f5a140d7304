from __future__ import annotations

import pytest

from exchange.domain.detection.findings import Redaction
from exchange.domain.errors import UnsupportedFile
from exchange.domain.filetypes import PDF, TEXT, sniff_media_type
from exchange.domain.redaction.text import BOX, decode_text, find_leaks, redact_text


def test_spans_are_replaced_whole_and_merged() -> None:
    text = "Ship to Kestrel Dynamics GmbH today"
    out = redact_text(text, [Redaction(8, 24, "CUSTOMER"), Redaction(16, 29, "CUSTOMER")])
    assert out == f"Ship to {BOX} today"


def test_label_replacement() -> None:
    assert (
        redact_text("by Oakridge now", [Redaction(3, 11, "CUSTOMER", "[CUSTOMER-2]")])
        == "by [CUSTOMER-2] now"
    )


def test_leak_check_folds_case_diacritics_and_line_breaks() -> None:
    assert find_leaks("ship to MUELLER\nmagnet", ["Mueller Magnet"]) == ["Mueller Magnet"]
    assert find_leaks("Kes-\ntrel Dynamics", ["Kestrel Dynamics"]) == ["Kestrel Dynamics"]
    assert find_leaks("Müller", ["Muller"]) == ["Muller"]
    assert find_leaks("nothing here", ["Kestrel"]) == []


def test_leak_check_reads_letter_spaced_runs() -> None:
    assert find_leaks("To: K e s t r e l  D y n a m i c s", ["Kestrel Dynamics"]) == ["Kestrel Dynamics"]
    assert find_leaks("To: K e s t r e l D y n a m i c s GmbH", ["Kestrel Dynamics"]) == ["Kestrel Dynamics"]
    # Ordinary text is not glued together: "cloak ridge" does not hide "Oakridge".
    assert find_leaks("a cloak ridge walk", ["Oakridge"]) == []


def test_decode_keeps_legacy_encodings_and_rejects_binary() -> None:
    assert decode_text("\ufeffhallo".encode()) == "hallo"
    # Not UTF-8 and not Chinese: Windows-1252, as suppliers' spreadsheets export it.
    assert decode_text(b"caf\xe9") == "café"
    with pytest.raises(UnsupportedFile, match="UTF-8"):
        decode_text(b"\xef\xbb\xbfcaf\xe9")  # a UTF-8 BOM promises UTF-8
    with pytest.raises(UnsupportedFile, match="NUL"):
        decode_text(b"a\x00b")


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"%PDF-1.7\n", PDF), (b"junk before\n%PDF-1.4", PDF), ("Grüße".encode(), TEXT)],
)
def test_sniffing_accepts(head: bytes, expected: str) -> None:
    assert sniff_media_type(head, "f") == expected


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a\x01\x00", "GIF"),
        (b"PK\x03\x04", "ZIP"),
        (b"MZ\x90\x00", "executable"),
        (b"\x00\x01\x02binary", "binary"),
        (b"\x01\x02\x03\x04 text with controls", "no supported format"),
    ],
)
def test_sniffing_refuses_with_reason(head: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFile, match=reason):
        sniff_media_type(head, "upload.bin")


@pytest.mark.parametrize(
    ("head", "name"),
    [(b"%PDF-1.7\n", "order.txt"), (b"<html><body>hi</body></html>", "order.pdf"), (b"%PDF-1.4", "scan.jpg")],
)
def test_sniffing_refuses_names_that_lie_about_content(head: bytes, name: str) -> None:
    with pytest.raises(UnsupportedFile, match="the name says"):
        sniff_media_type(head, name)
