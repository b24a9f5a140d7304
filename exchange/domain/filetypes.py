"""Content sniffing for uploads: the bytes decide the type, never the name.

Only types an engine can truly redact are accepted (the engine registry
decides); anything else is refused with the reason, so nothing passes
through unredacted. A name whose extension claims another type than the
content is refused too: a bundle must never carry a file whose extension
lies about what it holds, and a mismatch is often the wrong file.
"""

from __future__ import annotations

import unicodedata
from typing import BinaryIO

from exchange.domain.errors import InvalidInput, UnsupportedFile

PDF = "application/pdf"
TEXT = "text/plain"
CSV = "text/csv"

SUPPORTED_SUMMARY = (
    "PDF, Word/Excel/PowerPoint (DOCX, XLSX, PPTX), images (JPEG, PNG, TIFF, WebP, HEIC),"
    " videos (MP4, MOV, M4V, WebM) and text/CSV are supported"
)

#: Formats refused by magic number, named so the user learns what was seen.
_BINARY_MAGIC = {
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
    b"PK\x03\x04": "a ZIP archive (other than DOCX, XLSX or PPTX)",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x7fELF": "an executable",
    b"MZ": "an executable",
}

#: What a file name's extension claims, as a family of media types.
_EXTENSION_CLAIMS = {
    ".pdf": ("application/pdf",),
    ".jpg": ("image/jpeg",),
    ".jpeg": ("image/jpeg",),
    ".jpe": ("image/jpeg",),
    # A phone's multi-picture JPEG; only its primary picture is ever shared (see the image engine).
    ".mpo": ("image/jpeg",),
    ".png": ("image/png",),
    ".tif": ("image/tiff",),
    ".tiff": ("image/tiff",),
    ".webp": ("image/webp",),
    ".heic": ("image/heic", "image/heif"),
    ".heif": ("image/heic", "image/heif"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    ".mp4": ("video/mp4", "video/quicktime", "video/x-m4v"),
    ".m4v": ("video/x-m4v", "video/mp4", "video/quicktime"),
    ".mov": ("video/quicktime", "video/mp4", "video/x-m4v"),
    ".webm": ("video/webm",),
    # A text whose content parses as one consistent table is CSV whatever its name says,
    # and a .csv whose rows are ragged is redacted as plain text: both are the same family.
    ".txt": (TEXT, CSV),
    ".text": (TEXT, CSV),
    ".csv": (CSV, TEXT),
    ".tsv": (CSV, TEXT),
    ".md": (TEXT, CSV),
    ".log": (TEXT, CSV),
}

_NAMES = {
    "application/pdf": "a PDF",
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "image/tiff": "a TIFF image",
    "image/webp": "a WebP image",
    "image/heic": "a HEIC image",
    "image/heif": "a HEIF image",
    TEXT: "plain text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document (DOCX)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "an Excel workbook (XLSX)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "a PowerPoint deck (PPTX)",
    "video/mp4": "an MP4 video",
    "video/quicktime": "a QuickTime video",
    "video/x-m4v": "an M4V video",
    "video/webm": "a WebM video",
}


def describe(media_type: str) -> str:
    return _NAMES.get(media_type, media_type)


def sniff_media_type(head: bytes, name: str, source: BinaryIO | None = None) -> str:
    """Decide the media type from the first bytes (at least 8 KiB when available).

    ``source``, the whole content (seekable), lets container formats look
    inside; its position is undefined afterwards.
    """
    from exchange.domain.redaction.registry import sniff  # noqa: PLC0415  (engines import heavy libraries)

    if not head:
        raise UnsupportedFile(f"{name}: the file is empty")
    found = sniff(head, source)
    if head.startswith(_CFB):
        raise UnsupportedFile(f"{name}: {_cfb_reason(head, source)}")
    if found is None or found[0] == TEXT:
        for magic, what in _BINARY_MAGIC.items():
            if head.startswith(magic):
                raise UnsupportedFile(f"{name}: {what} is not supported ({SUPPORTED_SUMMARY})")
    if found is None:
        if head[257:262] == b"ustar":
            raise UnsupportedFile(f"{name}: a tar archive is not supported ({SUPPORTED_SUMMARY})")
        if _utf16_without_bom(head):
            raise UnsupportedFile(
                f"{name}: UTF-16 text without a byte-order mark; save it as UTF-8 or with a BOM"
            )
        if _text_with_nul(head):
            raise UnsupportedFile(
                f"{name}: the text file contains NUL bytes; remove them or save it again as plain UTF-8 text"
            )
        if b"\x00" in head:
            raise UnsupportedFile(f"{name}: binary content of an unsupported type ({SUPPORTED_SUMMARY})")
        raise UnsupportedFile(f"{name}: text is not UTF-8 and no supported format was recognised")
    media_type = found[0]
    check_extension(name, media_type)
    return media_type


#: share of characters a viewer shows as text (printable or line layout) for content to count as text
_TEXT_SHARE = 0.95
#: in UTF-16 of Latin text, the high byte of most characters is zero; CJK text has none, so it is
#: not recognised here (nor does it need to be: it is refused as text that is not UTF-8)
_UTF16_ZERO_SHARE = 0.6
_LAYOUT = frozenset("\t\n\r\f\v")


def _reads_as_text(text: str) -> bool:
    shown = sum(1 for ch in text if ch.isprintable() or ch in _LAYOUT)
    return bool(text.strip()) and shown >= _TEXT_SHARE * len(text)


def _utf16_without_bom(head: bytes) -> bool:
    """Whether ``head`` is UTF-16 text (either byte order) that lacks the byte-order mark.

    Without a BOM the text engine cannot tell UTF-16 from binary, so the
    upload is refused; this only names the reason.
    """
    sample = head[: len(head) // 2 * 2]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= _UTF16_ZERO_SHARE * len(zeros) and other.count(0) == 0:
            # A character cut at the end of the sample is fine; a lone surrogate inside is not text.
            text = sample.decode(codec, errors="replace").rstrip("\ufffd")
            if "\ufffd" not in text and _reads_as_text(text):
                return True
    return False


def _text_with_nul(head: bytes) -> bool:
    """Whether ``head`` is UTF-8 text apart from NUL bytes (a log padded after a crash, a bad export)."""
    rest = head.replace(b"\x00", b"")
    for cut in range(4):  # a multi-byte character cut at the end of the sample is fine
        try:
            text = (rest[: len(rest) - cut] if cut else rest).decode("utf-8")
        except UnicodeDecodeError:
            continue
        return _reads_as_text(text)
    return False


_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Office encrypts a protected DOCX/XLSX/PPTX into a CFB container with this stream.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def _cfb_reason(head: bytes, source: BinaryIO | None) -> str:
    """A CFB (OLE2) container is either a password-protected OOXML file or a legacy format."""
    data = head
    if source is not None:
        source.seek(0)
        data = source.read(4 * 2**20)  # the directory sits near the start in small files
    if _ENCRYPTED_STREAM in data:
        return "the Office file is password-protected; please upload an unprotected copy"
    return "a legacy Office document (.doc, .xls, .ppt) is not supported; save it as DOCX, XLSX or PPTX"


def check_extension(name: str, media_type: str) -> None:
    """Refuse a name whose known extension claims another type than the content."""
    dot = name.rfind(".")
    if dot <= 0:
        return
    claims = _EXTENSION_CLAIMS.get(name[dot:].lower())
    if claims is not None and media_type not in claims:
        raise UnsupportedFile(
            f"{name}: the name says {describe(claims[0])} but the content is {describe(media_type)}; "
            "rename the file or upload the right one"
        )


def display_name(name: str | None) -> str:
    """A user's file name made safe to show and store: its last path segment, no control characters.

    Display only: the server never uses it as a path. Stored names come from
    ``upload_name``, which refuses control characters instead of hiding them.
    """
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:MAX_NAME_CHARS] or "unnamed"


#: the longest stored file name (the database column's width)
MAX_NAME_CHARS = 255
#: embedding, override and isolate controls: they make "exe.pdf" read as "fdp.exe"
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def upload_name(name: str | None) -> str:
    """The name an upload is stored under: its last path segment, NFC, or a refusal.

    A name with NUL, other control characters, lone surrogates or bidi
    overrides is refused rather than silently changed: the applicant should
    know that the name the recipient sees is not the one they sent.
    """
    raw = name or ""
    if any(unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS for ch in raw):
        raise InvalidInput("the file name contains control characters")
    base = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if len(base) > MAX_NAME_CHARS:
        raise InvalidInput(f"the file name is longer than {MAX_NAME_CHARS} characters")
    return base or "unnamed"
