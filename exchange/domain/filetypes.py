"""Content sniffing for uploads: the bytes decide the type, never the name.

Only types an engine can truly redact are accepted; anything else is refused
with the reason, so nothing passes through unredacted.
"""

from __future__ import annotations

import unicodedata

from exchange.domain.errors import UnsupportedFile

PDF = "application/pdf"
TEXT = "text/plain"
SUPPORTED = (PDF, TEXT)

_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP or Office document",
    b"\xd0\xcf\x11\xe0": "a legacy Office document",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x7fELF": "an executable",
    b"MZ": "an executable",
}


def sniff_media_type(head: bytes, name: str) -> str:
    """Decide the media type from the first bytes (at least 8 KiB when available)."""
    if not head:
        raise UnsupportedFile(f"{name}: the file is empty")
    # PDF readers accept the header anywhere in the first KiB; so must we, or a
    # PDF with a prefix would be treated as text.
    if b"%PDF-" in head[:1024]:
        return PDF
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise UnsupportedFile(f"{name}: {what} is not supported yet (PDF and UTF-8 text are)")
    if b"\x00" in head:
        raise UnsupportedFile(f"{name}: binary content of an unsupported type (PDF and UTF-8 text are)")
    sample = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is fine.
        if exc.start < len(sample) - 4:
            raise UnsupportedFile(f"{name}: text is not UTF-8 (byte {exc.start})") from None
    return TEXT


def display_name(name: str | None) -> str:
    """A user's file name made safe to show and store: its last path segment, no control characters.

    Display only: the server never uses it as a path.
    """
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:255] or "unnamed"
