"""A safely opened OOXML package (DOCX, XLSX, PPTX) and the sanitising all three share.

Threat assumptions: the upload may be hostile. A ZIP may lie about sizes,
claim enormous compression ratios, carry entry names that escape a directory
(``..``, absolute paths, backslashes, drive letters), duplicates that one
reader sees and another does not, or symlinks; XML may declare a DTD with
entity bombs or external entities; the file may be an encrypted CFB container
(a password-protected OOXML) or a macro-enabled variant.

Invariants:

* Nothing is decompressed before the central directory passed every check:
  entry count, per-entry and total declared sizes, per-entry and total
  compression ratio, entry names and symlink bits. Decompression is then
  bounded by the declared sizes (a lying entry fails its CRC or its cap).
  Every failure is :class:`UnsupportedFile` with one secret-free line.
* XML is parsed by parsers that never load a DTD, never resolve an entity
  and never touch the network; any DOCTYPE is refused outright, and so is a
  DTD or entity declaration anywhere in a part's bytes (streamed parts are
  checked across chunk boundaries).
* Parts up to :data:`LAZY_PART_BYTES` live in memory (the package object);
  larger ones stay compressed in the source file, in the job's own working
  directory, and are read from it as streams, after checking that the file
  and the entry are still the ones checked at opening. A large part rewritten
  by an engine is held deflated in memory, not whole. Nothing is written to
  disk except into the job's own working directory (images handed to the
  image engine).
* Verification parses every part of the output as a stream into a collector
  that builds no tree, and searches its texts in overlapping windows, so its
  memory does not grow with the size of a part either.
* ``save`` writes a fresh, deterministic ZIP (fixed timestamps, deflate,
  ``[Content_Types].xml`` first); nothing of the input's ZIP framing (comments,
  extra fields, data after the directory) survives.
* :func:`sanitise` removes what no recipient needs and no detector can read
  reliably (thumbnails, macros, OLE objects, ActiveX, embedded packages and
  fonts, printer settings, custom XML, external relationships other than
  hyperlinks, people lists) and blanks document properties; references to
  removed parts are removed from the XML so the output still opens. Reports
  carry kinds and counts only.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal

from lxml import etree

from exchange.domain.detection.normalise import fold
from exchange.domain.detection.terms import TermMatcher, build_terms
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    count_types,
    new_report,
    withheld,
)
from exchange.domain.redaction.image.engine import ImageDocument, ImageEngine, sniff_image
from exchange.domain.redaction.text import find_leaks

if TYPE_CHECKING:
    from exchange.domain.detection.planner import RecipientPlan

Kind = Literal["docx", "xlsx", "pptx"]

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

ENCRYPTED_REASON = "the Office file is password-protected; please upload an unprotected copy"
MACRO_REASON = "macro-enabled Office files are not accepted; save it as .docx/.xlsx/.pptx and upload again"
_DAMAGED = "the Office file is damaged or not a valid OOXML package"

CT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"
C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
REL_BASE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
OFFICE_DOCUMENT = REL_BASE + "officeDocument"
HYPERLINK = REL_BASE + "hyperlink"
#: ISO 29500 Strict uses other namespaces throughout; we refuse it rather than half-read it.
STRICT_PREFIX = "http://purl.oclc.org/ooxml/"

#: main part content type -> (kind, macro-enabled)
MAIN_TYPES: dict[str, tuple[Kind, bool]] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": ("docx", False),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": ("docx", False),
    "application/vnd.ms-word.document.macroEnabled.main+xml": ("docx", True),
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": ("docx", True),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": ("xlsx", False),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": ("xlsx", False),
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": ("xlsx", True),
    "application/vnd.ms-excel.template.macroEnabled.main+xml": ("xlsx", True),
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": ("xlsx", True),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": ("pptx", False),
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": ("pptx", False),
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": ("pptx", False),
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": ("pptx", True),
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": ("pptx", True),
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml": ("pptx", True),
    "application/vnd.ms-powerpoint.addin.macroEnabled.main+xml": ("pptx", True),
}

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_DRIVE = re.compile(r"^[A-Za-z]:")
_DOCTYPE = (b"<!DOCTYPE", b"<!ENTITY", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))


@dataclass(frozen=True, slots=True)
class OfficeLimits:
    """ZIP limits; generous for real documents, far below what a bomb claims."""

    max_entries: int = 10_000
    #: one decompressed part
    max_entry_bytes: int = 256 * 2**20
    #: every decompressed part together
    max_total_bytes: int = 1024 * 2**20
    #: uncompressed/compressed for one entry, checked once it is larger than ``ratio_floor``
    max_entry_ratio: float = 200.0
    #: the same for the whole package
    max_total_ratio: float = 100.0
    ratio_floor: int = 2**20
    #: [Content_Types].xml read while sniffing
    max_sniff_bytes: int = 2**20


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=False
    )


def parse_xml(data: bytes, what: str = "an XML part") -> etree._Element:
    """Parse OOXML safely: no DTD at all (entity bombs, external entities), no network."""
    head = data[:4096]
    if any(marker in head for marker in _DOCTYPE) or any(m in data for m in _DOCTYPE[:2]):
        raise UnsupportedFile(f"the Office file declares a DTD in {what}; such files are not accepted")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        raise UnsupportedFile(f"the Office file has malformed XML in {what}") from None
    if root.getroottree().docinfo.doctype:
        raise UnsupportedFile(f"the Office file declares a DTD in {what}; such files are not accepted")
    return root


def serialise_xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def local(tag: object) -> str:
    """Local name of an element tag ("" for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


# -- sniffing ------------------------------------------------------------------


def _whole(head: bytes, source: BinaryIO | None) -> BinaryIO:
    if source is None:
        return io.BytesIO(head)
    source.seek(0)
    return source


def is_cfb(head: bytes) -> bool:
    return head.startswith(CFB_MAGIC)


def encrypted_ooxml(head: bytes, source: BinaryIO | None = None) -> bool:
    """A CFB container holding an ``EncryptedPackage`` stream: a password-protected OOXML file."""
    if not is_cfb(head):
        return False
    needle = "EncryptedPackage".encode("utf-16-le")
    if needle in head:
        return True
    if source is None:
        return False
    source.seek(0)
    # Directory sectors sit anywhere; 8 MiB covers every real protected document's directory.
    return needle in source.read(8 * 2**20)


def ooxml_kind(head: bytes, source: BinaryIO | None = None) -> Kind | None:
    """ "docx", "xlsx" or "pptx" from the main part's content type, macro-enabled types included."""
    if not head.startswith(ZIP_MAGIC):
        return None
    limits = OfficeLimits()
    try:
        with zipfile.ZipFile(_whole(head, source)) as archive:
            try:
                info = archive.getinfo("[Content_Types].xml")
            except KeyError:
                return None
            if info.file_size > limits.max_sniff_bytes:
                return None
            with archive.open(info) as handle:
                data = handle.read(limits.max_sniff_bytes + 1)
        root = parse_xml(data, "[Content_Types].xml")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, UnsupportedFile):
        return None
    for element in root:
        if local(element.tag) == "Override":
            found = MAIN_TYPES.get((element.get("ContentType") or "").strip())
            if found is not None:
                return found[0]
    return None


# -- the package ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relationship:
    id: str
    type: str
    target: str
    external: bool
    #: the part name the target resolves to (None for external targets)
    part: str | None

    @property
    def kind(self) -> str:
        """The relationship type's last segment, e.g. "hyperlink", "image"."""
        return self.type.rstrip("/").rpartition("/")[2]


def rels_name(part: str) -> str:
    """The relationships part of ``part`` ("" for the package itself)."""
    directory, _, base = part.rpartition("/")
    return f"{directory}/_rels/{base}.rels" if directory else f"_rels/{base}.rels"


def source_of_rels(rels: str) -> str:
    """The part a relationships part belongs to ("" for the package's own)."""
    directory, _, base = rels.rpartition("/")
    owner_dir = directory.rpartition("/")[0] if directory.endswith("_rels") else directory
    base = base.removesuffix(".rels")
    if rels == "_rels/.rels":
        return ""
    return f"{owner_dir}/{base}" if owner_dir else base


def resolve_target(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    base = posixpath.dirname(source_part)
    return posixpath.normpath(posixpath.join(base, target)) if base else posixpath.normpath(target)


def _check_name(name: str, seen: set[str]) -> None:
    if not name or "\\" in name or "\x00" in name:
        raise UnsupportedFile("the Office file has an entry with a forbidden name")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsupportedFile("the Office file has an entry with an absolute path")
    if ".." in name.split("/"):
        raise UnsupportedFile("the Office file has an entry whose name leaves its folder (..)")
    # OPC part names compare case-insensitively; two spellings of one part let readers disagree.
    key = name.casefold()
    if key in seen:
        raise UnsupportedFile("the Office file has duplicate entries")
    seen.add(key)


def _check_directory(infos: list[zipfile.ZipInfo], limits: OfficeLimits) -> None:
    if len(infos) > limits.max_entries:
        raise UnsupportedFile(f"the Office file has more than {limits.max_entries} entries")
    seen: set[str] = set()
    total = compressed = 0
    for info in infos:
        _check_name(info.filename, seen)
        if info.flag_bits & 0x1:
            raise UnsupportedFile(ENCRYPTED_REASON)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsupportedFile("the Office file contains a symbolic link")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsupportedFile("the Office file uses an unsupported ZIP compression method")
        if info.file_size > limits.max_entry_bytes:
            raise UnsupportedFile(
                f"the Office file has a part larger than {limits.max_entry_bytes // 2**20} MiB"
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_entry_ratio * max(
            info.compress_size, 1
        ):
            raise UnsupportedFile("the Office file has a part with an implausible compression ratio")
        total += info.file_size
        compressed += info.compress_size
    if total > limits.max_total_bytes:
        raise UnsupportedFile(f"the Office file unpacks to more than {limits.max_total_bytes // 2**20} MiB")
    if total > limits.ratio_floor * 10 and total > limits.max_total_ratio * max(compressed, 1):
        raise UnsupportedFile("the Office file has an implausible compression ratio")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    # The cap is the declared size plus one: a member inflating beyond its header is caught here.
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise UnsupportedFile(_DAMAGED)
    return data


# -- parts kept out of memory ------------------------------------------------------

#: a part larger than this stays compressed in its ZIP until it is read, and is read streamed
LAZY_PART_BYTES = 2**20
_CHUNK = 2**16
_CHANGED = "the Office file changed while it was processed"


class SourceZip:
    """The checked ZIP that large parts are read from again, each time re-checked.

    A path is reopened per read (no descriptor outlives a read) and must still
    be the same file; every member must still have the size, CRC and offset
    it had when the directory was checked, and its CRC is verified as it is read.
    """

    def __init__(self, path: Path | None = None, data: bytes | None = None) -> None:
        self._path, self._data = path, data
        self._identity: tuple[int, int, int, int] | None = None
        self._archive: zipfile.ZipFile | None = None
        if path is not None:
            found = path.stat()
            self._identity = (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)

    @contextmanager
    def member(self, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
        if self._data is not None:
            # In-memory ZIPs (our own output) keep one directory: re-reading it per part is quadratic.
            if self._archive is None:
                self._archive = zipfile.ZipFile(io.BytesIO(self._data))
            with self._open(self._archive, info) as member:
                yield member
            return
        assert self._path is not None  # noqa: S101  (one of the two is set)
        with self._path.open("rb") as handle:
            found = os.fstat(handle.fileno())
            if (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns) != self._identity:
                raise UnsupportedFile(_CHANGED)
            with zipfile.ZipFile(handle) as archive, self._open(archive, info) as member:
                yield member

    @staticmethod
    @contextmanager
    def _open(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
        try:
            now = archive.getinfo(info.filename)
        except KeyError:
            raise UnsupportedFile(_CHANGED) from None
        if (now.CRC, now.file_size, now.compress_size, now.header_offset) != (
            info.CRC,
            info.file_size,
            info.compress_size,
            info.header_offset,
        ):
            raise UnsupportedFile(_CHANGED)
        # ZipExtFile stops at the declared size and checks the CRC at its end.
        with archive.open(now) as member:
            yield member


class StoredPart:
    """A part still compressed in the source ZIP."""

    __slots__ = ("info", "source")

    def __init__(self, source: SourceZip, info: zipfile.ZipInfo) -> None:
        self.source, self.info = source, info

    @property
    def size(self) -> int:
        return self.info.file_size

    def chunks(self) -> Iterator[bytes]:
        total = 0
        try:
            with self.source.member(self.info) as member:
                while chunk := member.read(_CHUNK):
                    total += len(chunk)
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
            raise UnsupportedFile(_DAMAGED) from None
        if total != self.info.file_size:
            raise UnsupportedFile(_DAMAGED)


class DeflatedBuffer:
    """Bytes written once, kept deflated in memory; a rewritten worksheet shrinks about tenfold."""

    __slots__ = ("_compressor", "_pieces", "size")

    def __init__(self) -> None:
        # Level 1: this is a spool, compressed again properly when the package is saved.
        self._compressor: Any = zlib.compressobj(1, zlib.DEFLATED, -15)
        self._pieces: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        out = self._compressor.compress(data)
        if out:
            self._pieces.append(out)

    def close(self) -> None:
        if self._compressor is not None:
            self._pieces.append(self._compressor.flush())
            self._compressor = None

    def chunks(self) -> Iterator[bytes]:
        self.close()
        inflater = zlib.decompressobj(-15)
        for piece in self._pieces:
            pending = piece
            while pending:
                out = inflater.decompress(pending, _CHUNK)
                pending = inflater.unconsumed_tail
                if out:
                    yield out
        if tail := inflater.flush():
            yield tail


class StreamedPart:
    """A rewritten part made of pieces (a worksheet's head, its spooled rows, its tail)."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: Sequence[bytes | DeflatedBuffer]) -> None:
        self.pieces = tuple(pieces)

    @property
    def size(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.size for p in self.pieces)

    def chunks(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if isinstance(piece, bytes):
                yield piece
            else:
                yield from piece.chunks()


PartData = bytes | StoredPart | StreamedPart


class PartReader(io.RawIOBase):
    """A part as a binary stream for lxml's incremental parsers.

    It refuses what :func:`parse_xml` refuses, across chunk boundaries too (a
    DTD or entity declaration anywhere), and turns a ZIP that fails its
    checks while streaming into :class:`UnsupportedFile`.
    """

    def __init__(self, chunks: Iterator[bytes], what: str) -> None:
        super().__init__()
        self._chunks, self._what = chunks, what
        # A view, so that handing out a large chunk piece by piece copies each byte once.
        self._pending = memoryview(b"")
        self._carry = b""
        self._seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._guard(chunk)
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _guard(self, chunk: bytes) -> None:
        window = self._carry + chunk
        head = window if self._seen < 4096 else b""
        if any(m in window for m in _DOCTYPE[:2]) or any(m in head for m in _DOCTYPE):
            raise UnsupportedFile(
                f"the Office file declares a DTD in {self._what}; such files are not accepted"
            )
        self._seen += len(chunk)
        self._carry = window[-32:]

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


@dataclass(slots=True)
class OfficePackage:
    """The parts of one OOXML package (see the module docstring).

    Parts up to :data:`LAZY_PART_BYTES` are held as bytes; larger ones stay
    compressed in the source ZIP (:class:`StoredPart`) and are streamed when
    read, and engines may put back a rewritten large part as a
    :class:`StreamedPart`, so memory does not grow with the biggest sheet.
    """

    parts: dict[str, PartData]
    kind: Kind
    main_part: str
    #: part -> relationship ids removed from it whose references must leave its XML
    dropped: dict[str, set[str]] = field(default_factory=dict)
    _types: etree._Element | None = None

    # -- opening ---------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, limits: EngineLimits | None = None, office: OfficeLimits | None = None
    ) -> OfficePackage:
        limits = limits or EngineLimits()
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                head = handle.read(8)
                if size > limits.max_input_bytes:
                    raise UnsupportedFile(
                        f"the Office file is larger than {limits.max_input_bytes // 2**20} MiB"
                    )
                handle.seek(0)
                return cls.open_stream(handle, head, office, SourceZip(path=path))
        except OSError:
            raise UnsupportedFile("the file cannot be read") from None

    @classmethod
    def open_bytes(cls, data: bytes, office: OfficeLimits | None = None) -> OfficePackage:
        return cls.open_stream(io.BytesIO(data), data[:8], office, SourceZip(data=data))

    @classmethod
    def open_stream(
        cls,
        handle: BinaryIO,
        head: bytes,
        office: OfficeLimits | None = None,
        source: SourceZip | None = None,
    ) -> OfficePackage:
        """Check and open a package; with ``source`` (the same ZIP again), large parts stay in it."""
        office = office or OfficeLimits()
        if is_cfb(head):
            raise UnsupportedFile(ENCRYPTED_REASON)
        if not head.startswith(ZIP_MAGIC):
            raise UnsupportedFile("the file is not an Office (OOXML) package")
        try:
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                _check_directory(infos, office)
                parts: dict[str, PartData] = {}
                for info in infos:
                    if info.is_dir():
                        continue
                    if source is not None and info.file_size > LAZY_PART_BYTES:
                        parts[info.filename] = StoredPart(source, info)
                    else:
                        parts[info.filename] = _read_member(archive, info)
        except UnsupportedFile:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
            raise UnsupportedFile(_DAMAGED) from None
        except OSError:
            raise UnsupportedFile(_DAMAGED) from None
        return cls._from_parts(parts)

    @classmethod
    def _from_parts(cls, parts: dict[str, PartData]) -> OfficePackage:
        if "[Content_Types].xml" not in parts or "_rels/.rels" not in parts:
            raise UnsupportedFile(_DAMAGED)
        package = cls(parts, "docx", "")
        main = [r for r in package.relationships("") if r.type.endswith("/officeDocument")]
        if main and main[0].type.startswith(STRICT_PREFIX):
            raise UnsupportedFile("Strict Open XML files are not supported; save as a regular Office file")
        if not main or main[0].external or main[0].part not in parts:
            raise UnsupportedFile(_DAMAGED)
        main_part = main[0].part
        assert main_part is not None  # noqa: S101  (checked just above)
        found = MAIN_TYPES.get(package.content_type(main_part))
        if found is None:
            raise UnsupportedFile("the Office file's main part has an unknown type")
        if found[1]:
            raise UnsupportedFile(MACRO_REASON)
        package.kind, package.main_part = found[0], main_part
        return package

    # -- parts -----------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self.parts)

    def has(self, name: str) -> bool:
        return name in self.parts

    def read_bytes(self, name: str) -> bytes:
        part = self.parts[name]
        return part if isinstance(part, bytes) else b"".join(part.chunks())

    def read_xml(self, name: str) -> etree._Element:
        return parse_xml(self.read_bytes(name), name)

    def is_streamed(self, name: str) -> bool:
        """Whether the part is large and kept out of memory (read it with :meth:`reader`)."""
        return not isinstance(self.parts[name], bytes)

    def part_size(self, name: str) -> int:
        part = self.parts[name]
        return len(part) if isinstance(part, bytes) else part.size

    def chunks(self, name: str) -> Iterator[bytes]:
        part = self.parts[name]
        if isinstance(part, bytes):
            return iter((part,))
        return part.chunks()

    def reader(self, name: str) -> PartReader:
        """The part as a stream for incremental parsing; close it (``with``) when done."""
        return PartReader(self.chunks(name), name)

    def head(self, name: str, size: int) -> bytes:
        """The first ``size`` bytes of a part, without reading a large part whole."""
        out = b""
        chunks = self.chunks(name)
        try:
            for chunk in chunks:
                out += chunk
                if len(out) >= size:
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return out[:size]

    def write_streamed(self, name: str, part: StreamedPart) -> None:
        self.parts[name] = part

    def write_xml(self, name: str, root: etree._Element) -> None:
        self.parts[name] = serialise_xml(root)
        if name == "[Content_Types].xml":
            self._types = None

    def write_bytes(self, name: str, data: bytes, content_type: str | None = None) -> None:
        self.parts[name] = data
        if content_type is not None and self.content_type(name) != content_type:
            self.set_override(name, content_type)

    # -- content types -----------------------------------------------------------

    def _content_types(self) -> etree._Element:
        if self._types is None:
            self._types = self.read_xml("[Content_Types].xml")
        return self._types

    def _store_types(self) -> None:
        types = self._content_types()
        self.parts["[Content_Types].xml"] = serialise_xml(types)

    def content_type(self, name: str) -> str:
        types = self._content_types()
        wanted = "/" + name
        for element in types:
            if local(element.tag) == "Override" and (element.get("PartName") or "").lower() == wanted.lower():
                return (element.get("ContentType") or "").strip()
        extension = name.rpartition(".")[2].lower() if "." in name.rpartition("/")[2] else ""
        for element in types:
            if local(element.tag) == "Default" and (element.get("Extension") or "").lower() == extension:
                return (element.get("ContentType") or "").strip()
        return ""

    def set_override(self, name: str, content_type: str) -> None:
        self.remove_override(name)
        types = self._content_types()
        etree.SubElement(types, f"{{{CT_TYPES}}}Override", PartName="/" + name, ContentType=content_type)
        self._store_types()

    def ensure_default(self, extension: str, content_type: str) -> None:
        types = self._content_types()
        for element in types:
            if local(element.tag) == "Default" and (element.get("Extension") or "").lower() == extension:
                return
        default = etree.Element(f"{{{CT_TYPES}}}Default", Extension=extension, ContentType=content_type)
        types.insert(0, default)
        self._store_types()

    def remove_override(self, name: str) -> None:
        types = self._content_types()
        wanted = ("/" + name).lower()
        gone = [
            e for e in types if local(e.tag) == "Override" and (e.get("PartName") or "").lower() == wanted
        ]
        for element in gone:
            types.remove(element)
        if gone:
            self._store_types()

    # -- relationships -----------------------------------------------------------

    def rels_parts(self) -> list[str]:
        return [n for n in self.parts if n.endswith(".rels") and ("/_rels/" in n or n.startswith("_rels/"))]

    def relationships(self, part: str) -> list[Relationship]:
        """Relationships of ``part`` ("" for the package's own)."""
        name = "_rels/.rels" if part == "" else rels_name(part)
        if name not in self.parts:
            return []
        out = []
        for element in self.read_xml(name):
            if local(element.tag) != "Relationship":
                continue
            target = element.get("Target") or ""
            external = (element.get("TargetMode") or "").lower() == "external"
            out.append(
                Relationship(
                    element.get("Id") or "",
                    element.get("Type") or "",
                    target,
                    external,
                    None if external else resolve_target(part, target),
                )
            )
        return out

    def remove_relationships(self, part: str, ids: Iterable[str]) -> int:
        """Remove relationships of ``part`` by id; their references are removed by :meth:`drop_references`."""
        wanted = set(ids)
        name = "_rels/.rels" if part == "" else rels_name(part)
        if not wanted or name not in self.parts:
            return 0
        root = self.read_xml(name)
        gone = [e for e in root if local(e.tag) == "Relationship" and e.get("Id") in wanted]
        for element in gone:
            root.remove(element)
        self.write_xml(name, root)
        self.dropped.setdefault(part, set()).update(e.get("Id") or "" for e in gone)
        return len(gone)

    def set_relationship_target(self, part: str, rid: str, target: str) -> None:
        name = "_rels/.rels" if part == "" else rels_name(part)
        root = self.read_xml(name)
        for element in root:
            if local(element.tag) == "Relationship" and element.get("Id") == rid:
                element.set("Target", target)
        self.write_xml(name, root)

    def remove_part(self, name: str) -> None:
        """Remove a part, its own relationships, its Override and every relationship targeting it."""
        self.parts.pop(name, None)
        self.parts.pop(rels_name(name), None)
        self.remove_override(name)
        self.dropped.pop(name, None)
        for rels in self.rels_parts():
            owner = source_of_rels(rels)
            ids = [r.id for r in self.relationships(owner) if r.part == name]
            if ids:
                self.remove_relationships(owner, ids)

    def rename_part(self, old: str, new: str) -> None:
        """Move a part to a new name, retargeting every relationship that points at it."""
        self.parts[new] = self.parts.pop(old)
        if rels_name(old) in self.parts:
            self.parts[rels_name(new)] = self.parts.pop(rels_name(old))
        self.remove_override(old)
        for rels in self.rels_parts():
            owner = source_of_rels(rels)
            for rel in self.relationships(owner):
                if rel.part == old:
                    target = posixpath.relpath(new, posixpath.dirname(owner) or ".")
                    self.set_relationship_target(owner, rel.id, target)

    def targets(self, type_suffix: str) -> Iterator[tuple[str, Relationship]]:
        """(owner, relationship) for every relationship whose type ends with ``type_suffix``."""
        for rels in self.rels_parts():
            owner = source_of_rels(rels)
            for rel in self.relationships(owner):
                if rel.type.endswith(type_suffix):
                    yield owner, rel

    # -- writing -----------------------------------------------------------------

    def save(self) -> bytes:
        """A fresh, deterministic ZIP of the parts (see the module docstring)."""
        first = [n for n in ("[Content_Types].xml", "_rels/.rels") if n in self.parts]
        order = first + [n for n in self.parts if n not in first]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in order:
                info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                part = self.parts[name]
                if isinstance(part, bytes):
                    archive.writestr(info, part, compresslevel=6)
                    continue
                # Streamed into the entry: a large part is never whole in memory.
                # The size is what writestr would have set (it decides ZIP64 up front).
                info.file_size = part.size
                with archive.open(info, "w") as out:
                    for chunk in part.chunks():
                        out.write(chunk)
        return buffer.getvalue()

    def copy(self) -> OfficePackage:
        return OfficePackage(
            dict(self.parts), self.kind, self.main_part, {k: set(v) for k, v in self.dropped.items()}
        )


# -- sanitising ------------------------------------------------------------------

#: (substring of a lower-cased part name, report kind); first match wins
_REMOVED_PARTS: tuple[tuple[str, str], ...] = (
    ("docprops/thumbnail.", "thumbnail"),
    ("vbaproject", "macros"),
    ("vbadata.xml", "macros"),
    ("/activex/", "activex"),
    ("/printersettings/", "printer_settings"),
    ("/embeddings/", "embedded_objects"),
    ("customxml/", "custom_xml"),
    ("docprops/custom.xml", "custom_properties"),
    ("word/people.xml", "comment_people"),
    (".odttf", "embedded_fonts"),
    (".fntdata", "embedded_fonts"),
)
#: document properties that name people, companies or the subject
_CORE_KEPT = frozenset({"created", "modified"})
_APP_REMOVED = frozenset({"Company", "Manager", "HyperlinkBase", "TitlesOfParts", "HeadingPairs", "Template"})


def _note(counts: dict[str, int], kind: str, n: int = 1) -> None:
    if n:
        counts[kind] = counts.get(kind, 0) + n


def _removed_kind(name: str) -> str | None:
    low = "/" + name.lower()
    for marker, kind in _REMOVED_PARTS:
        if marker in low:
            if kind == "embedded_objects":
                return "ole_objects" if low.endswith(".bin") else "embedded_packages"
            return kind
    return None


def sanitise(package: OfficePackage) -> dict[str, int]:
    """Remove and blank what no recipient needs (module docstring); counts per kind."""
    counts: dict[str, int] = {}
    for _owner, rel in list(package.targets("/thumbnail")):
        if rel.part and package.has(rel.part):
            package.remove_part(rel.part)
            _note(counts, "thumbnail")
    for name in list(package.parts):
        kind = _removed_kind(name)
        if kind is not None and package.has(name):
            if kind == "custom_properties":
                _note(counts, kind, _count_children(package, name))
            package.remove_part(name)
            _note(counts, kind)
    for rels in package.rels_parts():
        owner = source_of_rels(rels)
        if rels not in package.parts:
            continue
        external = [r for r in package.relationships(owner) if r.external and r.kind != "hyperlink"]
        for rel in external:
            _note(counts, f"external_{rel.kind or 'link'}")
        package.remove_relationships(owner, [r.id for r in external])
    for _owner, rel in list(package.targets("/core-properties")):
        if rel.part and package.has(rel.part):
            _note(counts, "core_properties", _blank_children(package, rel.part, keep=_CORE_KEPT))
    for _owner, rel in list(package.targets("/extended-properties")):
        if rel.part and package.has(rel.part):
            _note(counts, "app_properties", _blank_children(package, rel.part, remove=_APP_REMOVED))
    _note(counts, "references_removed", drop_references(package))
    return counts


def _count_children(package: OfficePackage, name: str) -> int:
    try:
        return len(package.read_xml(name))
    except UnsupportedFile:
        return 0


def _blank_children(
    package: OfficePackage,
    name: str,
    keep: frozenset[str] | None = None,
    remove: frozenset[str] | None = None,
) -> int:
    root = package.read_xml(name)
    gone = [
        e
        for e in root
        if (keep is not None and local(e.tag) not in keep) or (remove is not None and local(e.tag) in remove)
    ]
    for element in gone:
        root.remove(element)
    package.write_xml(name, root)
    return len(gone)


# -- references to removed relationships -------------------------------------------

#: element local name -> ancestors (nearest first wins) removed with it instead of itself
_REMOVE_WITH: dict[str, tuple[str, ...]] = {
    "OLEObject": ("object", "pict"),
    "imagedata": ("object", "pict"),
    "control": ("object", "pict", "graphicFrame"),
    "oleObj": ("graphicFrame",),
    "blip": ("drawing", "pic", "graphicFrame"),
    "svgBlip": (),
}
#: elements whose children stay when the reference goes (a hyperlink's display text)
_UNWRAP = frozenset({"hyperlink"})
#: lists the schema wants one entry in at least (a worksheet's hyperlinks): removed once empty
_NOT_EMPTY = frozenset({"hyperlinks"})


def unwrap(element: etree._Element) -> None:
    """Replace ``element`` by its children (a hyperlink loses its link, keeps its text)."""
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    for offset, child in enumerate(list(element)):
        parent.insert(index + offset, child)
    parent.remove(element)


def remove_element(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _ancestor(element: etree._Element, names: tuple[str, ...]) -> etree._Element | None:
    for name in names:
        node = element.getparent()
        while node is not None:
            if local(node.tag) == name:
                return node
            node = node.getparent()
    return None


def drop_references(package: OfficePackage) -> int:
    """Remove XML references to relationships removed from each part; the count of elements."""
    removed = 0
    for part, ids in list(package.dropped.items()):
        if not ids or not package.has(part) or part.endswith(".rels"):
            continue
        try:
            root = package.read_xml(part)
        except UnsupportedFile:
            continue
        hits = [
            (element, attr)
            for element in root.iter()
            for attr, value in element.attrib.items()
            if attr.startswith(f"{{{R_NS}}}") and value in ids
        ]
        for element, attr in hits:
            name = local(element.tag)
            parent = element.getparent()
            if name == "blip" and local(attr) == "link" and f"{{{R_NS}}}embed" not in element.attrib:
                del element.attrib[attr]
            elif name in _UNWRAP:
                unwrap(element)
            else:
                found = _ancestor(element, _REMOVE_WITH.get(name, ()))
                target = element if found is None else found
                if target is not root:
                    parent = target.getparent()
                    remove_element(target)
            if parent is not None and local(parent.tag) in _NOT_EMPTY and len(parent) == 0:
                remove_element(parent)
            removed += 1
        package.write_xml(part, root)
        package.dropped[part] = set()
    return removed


def remove_orphans(package: OfficePackage) -> int:
    """Remove parts no relationship reaches any more (a removed OLE object's preview, ...)."""
    removed = 0
    while True:
        reached = {"[Content_Types].xml"}
        for rels in package.rels_parts():
            reached.update(r.part for r in package.relationships(source_of_rels(rels)) if r.part)
        orphans = [
            n
            for n in package.parts
            if n not in reached and not n.endswith(".rels") and n != "[Content_Types].xml"
        ]
        # A relationships part whose owner is gone is an orphan too.
        orphans += [
            r for r in package.rels_parts() if r != "_rels/.rels" and source_of_rels(r) not in package.parts
        ]
        if not orphans:
            return removed
        for name in orphans:
            package.remove_part(name)
            removed += 1


# -- the engine flow shared by the three formats ------------------------------------

#: content types (and name endings) read as XML
_XML_ENDINGS = (".xml", ".rels", ".vml")
#: images the image engine reads and writes in the same format
_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/tiff": "tiff", "image/webp": "webp"}


def is_xml_part(package: OfficePackage, name: str) -> bool:
    content_type = package.content_type(name)
    return content_type.endswith(("xml", "+xml")) or name.lower().endswith(_XML_ENDINGS)


def placeholder_png() -> bytes:
    """A small opaque grey PNG standing in for a picture nobody can read reliably (EMF, SVG, ...)."""
    from PIL import Image  # noqa: PLC0415  (Pillow is heavy; only documents with such pictures need it)

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (160, 160, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(slots=True)
class OfficeDocument(SourceDocument):
    """A read OOXML file: its package after recipient-independent clean-up, and its images' OCR."""

    package: OfficePackage | None = None
    #: image digest -> the image engine's document for it (OCR kept for redaction)
    images: dict[str, ImageDocument] = field(default_factory=dict)
    #: image part -> its digest
    image_parts: dict[str, str] = field(default_factory=dict)
    #: parts that are placeholders written by us (pictures no engine reads)
    placeholders: set[str] = field(default_factory=set)
    #: what read() removed or blanked, per kind
    sanitised: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class OfficeEngine:
    """The flow every OOXML engine shares; a format supplies three hooks.

    * ``prepare(package)``: recipient-independent clean-up (tracked changes,
      authors, ...), counts per kind;
    * ``units(package)``: every text the detector must read, in the order the
      format's ``apply`` will ask ``plan.find`` about them;
    * ``apply(package, plan)``: remove what the plan finds from every XML part;
      returns the entity types removed.

    Verification does not trust the hooks: every part of the written output is
    read again whole (see :func:`verify_package`).
    """

    format: str = "office"
    kind: Kind = "docx"
    media_type: str = ""
    label: str = "an Office file"

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type,)

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        return self.media_type if ooxml_kind(head, source) == self.kind else None

    def prepare(self, package: OfficePackage) -> dict[str, int]:
        return {}

    def units(self, package: OfficePackage) -> list[TextUnit]:
        raise NotImplementedError

    def apply(self, package: OfficePackage, plan: RecipientPlan) -> list[str]:
        raise NotImplementedError

    # -- reading ---------------------------------------------------------------

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        package = OfficePackage.open(source, limits)
        if package.kind != self.kind:
            raise UnsupportedFile(f"the file is an Office package but not {self.label}")
        counts = sanitise(package)
        for kind, n in self.prepare(package).items():
            _note(counts, kind, n)
        _note(counts, "references_removed", drop_references(package))
        _note(counts, "orphan_parts", remove_orphans(package))
        document = OfficeDocument(source, self.media_type, package=package)
        self._classify(document, counts, limits)
        document.sanitised = counts
        document.units = self.units(package)
        for image in document.images.values():
            document.units.extend(TextUnit(u.text, None, "ocr") for u in image.units)
        document.facts["sanitised"] = dict(counts)
        document.facts["images"] = len(document.image_parts)
        return document

    def _classify(self, document: OfficeDocument, counts: dict[str, int], limits: EngineLimits) -> None:
        """Every part is XML we read, an image the image engine reads, a placeholder, or removed."""
        package = document.package
        assert package is not None  # noqa: S101  (set by read)
        for name in list(package.parts):
            if not package.has(name) or name == "[Content_Types].xml":
                continue
            if is_xml_part(package, name):
                try:
                    # A parse that builds no tree: the engine's own passes build the trees they need.
                    check_xml(package, name)
                except UnsupportedFile:
                    if not name.lower().endswith(".vml"):
                        raise
                    # Legacy VML is often not well-formed XML; it is dropped rather than half-read.
                    package.remove_part(name)
                    _note(counts, "unreadable_parts")
                continue
            data = package.read_bytes(name)
            content_type = package.content_type(name)
            if content_type.startswith("image/") or "/media/" in "/" + name:
                if sniff_image(data[:16]) in _IMAGE_TYPES and self._read_image(document, name, limits):
                    continue
                self._replace_with_placeholder(document, name)
                _note(counts, "pictures_replaced")
                if content_type.startswith(("video/", "audio/")):
                    # The applicant should know the clip is gone, and how to share it after all.
                    document.warnings.append(
                        "an embedded video or sound was replaced by a blank picture: media inside Office "
                        "files is not redacted; upload the video as a file of its own"
                    )
                continue
            package.remove_part(name)
            _note(counts, "unknown_parts")
        _note(counts, "references_removed", drop_references(package))

    def _read_image(self, document: OfficeDocument, name: str, limits: EngineLimits) -> bool:
        package = document.package
        assert package is not None  # noqa: S101
        data = package.read_bytes(name)
        digest = hashlib.sha256(data).hexdigest()
        if digest not in document.images:
            # The image engine reads files; the copy stays in the job's own directory and is removed.
            handle, temp = tempfile.mkstemp(prefix=".office-image-", dir=document.path.parent)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                image = ImageEngine().read(Path(temp), limits)
            except UnsupportedFile:
                document.warnings.append("an embedded picture could not be decoded and was replaced")
                return False
            finally:
                Path(temp).unlink(missing_ok=True)
            assert isinstance(image, ImageDocument)  # noqa: S101  (ImageEngine.read's type)
            if image.kind not in ("PNG", "JPEG", "TIFF", "WEBP"):
                return False
            document.images[digest] = image
            if image.facts.get("review_reasons"):
                document.warnings.extend(
                    f"embedded picture: {reason}" for reason in image.facts["review_reasons"]
                )
        document.image_parts[name] = digest
        return True

    @staticmethod
    def _replace_with_placeholder(document: OfficeDocument, name: str) -> None:
        package = document.package
        assert package is not None  # noqa: S101
        stem = name.rpartition(".")[0] if "." in name.rpartition("/")[2] else name
        new, n = stem + ".png", 1
        while package.has(new) and new != name:
            new, n = f"{stem}-{n}.png", n + 1
        if new != name:
            package.rename_part(name, new)
        package.write_bytes(new, placeholder_png())
        package.ensure_default("png", "image/png")
        document.placeholders.add(new)

    # -- redacting ---------------------------------------------------------------

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        if not isinstance(document, OfficeDocument) or document.package is None:
            raise TypeError(f"{type(self).__name__}.redact needs the document its read() returned")
        report = new_report(self.format)
        report["sanitised"] = dict(document.sanitised)
        report["warnings"] = list(dict.fromkeys(document.warnings))
        report["images"] = plan.images
        package = document.package.copy()
        try:
            found = self.apply(package, plan)
            _note(report["sanitised"], "references_removed", drop_references(package))
        except UnsupportedFile as exc:
            return withheld(report, f"the document could not be redacted: {exc.message}", self.media_type)
        image_types, image_failure = self._redact_images(document, package, plan, report)
        if image_failure:
            return withheld(report, image_failure, self.media_type)
        report["counts"] = count_types([*found, *image_types])
        try:
            data = package.save()
        except UnsupportedFile as exc:
            # An untouched large part is copied from the source only now; it may fail its checks here.
            return withheld(report, f"the file could not be written: {exc.message}", self.media_type)
        except (OSError, ValueError) as exc:
            return withheld(report, f"the file could not be written ({type(exc).__name__})", self.media_type)
        images = set(document.image_parts) | document.placeholders
        renamed = report.pop("_renamed", {})
        images = {renamed.get(n, n) for n in images}
        leaks, unreadable = verify_package(data, plan.sensitive_values, images)
        checks = [
            "xml_text_and_attributes",
            "part_names",
            "images_ocr" if document.image_parts else "no_images",
        ]
        report["verification"] = {
            "performed": True,
            "passed": not leaks and not unreadable,
            "checks": checks,
            "leaks": [
                {"kind": "part", "part": part, "value_index": plan.sensitive_values.index(value)}
                for part, value in leaks
            ],
            "unreadable_parts": unreadable,
        }
        if unreadable:
            return withheld(
                report, f"{len(unreadable)} part(s) of the output could not be read", self.media_type
            )
        if leaks:
            return withheld(
                report,
                "verification found redacted content in the output",
                self.media_type,
                [v for _, v in leaks],
            )
        report["ok"] = True
        return RedactionResult(True, data, report, self.media_type)

    def _redact_images(
        self, document: OfficeDocument, package: OfficePackage, plan: RecipientPlan, report: dict[str, Any]
    ) -> tuple[list[str], str]:
        """Each distinct picture through the image engine once; (entity types, failure reason)."""
        if not document.image_parts:
            return [], ""
        engine = ImageEngine()
        outputs: dict[str, RedactionResult] = {}
        found: list[str] = []
        ocr_images = 0
        for digest, image in document.images.items():
            result = engine.redact(image, plan)
            if not result.ok or result.data is None:
                reason = result.report.get("withheld", "it could not be verified")
                return found, f"an embedded picture was withheld: {reason}"
            outputs[digest] = result
            ocr_images += 1
            for etype, n in result.report.get("counts", {}).items():
                found.extend([etype] * n)
            if result.report.get("needs_review"):
                report["needs_review"] = True
                report["review_reasons"].extend(result.report.get("review_reasons", []))
        for name, digest in document.image_parts.items():
            package.write_bytes(name, outputs[digest].data or b"")
        report["ocr"] = {"used": True, "images": ocr_images}
        if plan.images == "keep":
            report["warnings"].append("images kept by policy: their pixels were not redacted or verified")
        return found, ""


#: elements whose text is read joined up (runs of one paragraph, one shared string)
_JOINED = frozenset({"p", "si", "is", "txBody"})


_PARSER_SETTINGS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": False,
    "remove_pis": False,
}


class TextCollector:
    """An lxml parser target gathering a part's texts in document order, building no tree.

    Texts outside a joined element (paragraph, shared or inline string, text
    body) and text and tails alike come one piece per text node; a joined
    element's whole text (its descendants' texts and tails) is one piece;
    every comment and processing instruction is a piece of its own. Attribute
    values go to :attr:`attributes`, apart, so that the texts of neighbouring
    cells or paragraphs stay next to each other (a name split over two cells
    is read joined). The caller drains both lists as it feeds the parser.
    """

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.attributes: list[str] = []
        self._data: list[str] = []
        #: depth inside the outermost joined element (0: outside)
        self._joined = 0
        self._is_joined: dict[str, bool] = {}

    def _flush(self) -> None:
        if self._data and not self._joined:
            self.pieces.append("".join(self._data))
            self._data.clear()

    # start and end run once per element of every part: the flush is written out in them.
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if attrib:
            self.attributes.extend(attrib.values())
        if self._joined:
            self._joined += 1
            return
        data = self._data
        if data:
            self.pieces.append("".join(data))
            data.clear()
        joined = self._is_joined.get(tag)
        if joined is None:
            joined = local(tag) in _JOINED
            if len(self._is_joined) < 4096:
                self._is_joined[tag] = joined
        if joined:
            self._joined = 1

    def end(self, _tag: str) -> None:
        if self._joined:
            self._joined -= 1
            if self._joined:
                return
        data = self._data
        if data:
            self.pieces.append("".join(data))
            data.clear()

    def data(self, text: str) -> None:
        self._data.append(text)

    def comment(self, text: str) -> None:
        self._flush()
        self.pieces.append(text)

    def pi(self, target: str, data: str | None = None) -> None:
        self._flush()
        self.pieces.extend((target, data or ""))

    def doctype(self, *_args: object) -> None:
        raise UnsupportedFile("the Office file declares a DTD in an XML part; such files are not accepted")

    def close(self) -> None:
        self._joined = 0
        self._flush()


class _Wellformed:
    """A target that keeps nothing: the parse alone checks a part."""

    def doctype(self, *_args: object) -> None:
        raise UnsupportedFile("the Office file declares a DTD in an XML part; such files are not accepted")

    def close(self) -> None:
        return None


def feed_part(
    package: OfficePackage, name: str, target: object, each: Callable[[], None] | None = None
) -> None:
    """Parse a part chunk by chunk into ``target`` (calling ``each`` after every chunk)."""
    parser = etree.XMLParser(target=target, **_PARSER_SETTINGS)
    with package.reader(name) as reader:
        try:
            while chunk := reader.read(_CHUNK):
                parser.feed(chunk)
                if each is not None:
                    each()
            parser.close()
        except etree.XMLSyntaxError:
            raise UnsupportedFile(f"the Office file has malformed XML in {name}") from None
    if each is not None:
        each()


def check_xml(package: OfficePackage, name: str) -> None:
    """Raise :class:`UnsupportedFile` unless the part is well-formed XML without a DTD (streamed)."""
    feed_part(package, name, _Wellformed())


class LeakScan:
    """:func:`find_leaks` and the declared-term matcher over a stream of texts, in bounded memory.

    Consecutive windows overlap by the last texts of the previous one, at
    least twice the longest folded value long (a letter-spaced value is twice
    as long), so a value split over neighbouring texts is found however the
    windows fall. ``matcher`` finds the values' variant forms (``Kestrel_Dynamics_GmbH``,
    ``kestrel-dynamics``) that :func:`find_leaks`' folded substrings miss; what
    it finds is reported as a leak of that form.
    """

    #: characters per search; find_leaks' temporary copies of a window are what verification holds
    WINDOW = 2**18

    def __init__(self, sensitive_values: Sequence[str], matcher: TermMatcher | None = None) -> None:
        self.values = list(sensitive_values)
        self.matcher = matcher
        self.found: dict[str, None] = {}
        self._overlap = 2 * max((len(fold(v)) for v in self.values), default=0) + 64
        self._window: dict[str, None] = {}
        self._size = 0

    def add(self, pieces: Iterable[str]) -> None:
        for piece in pieces:
            if piece not in self._window and piece.strip():
                self._window[piece] = None
                self._size += len(piece) + 1
        if self._size >= self.WINDOW:
            self._scan(keep_tail=True)

    def finish(self) -> list[str]:
        self._scan(keep_tail=False)
        return list(self.found)

    def _scan(self, keep_tail: bool) -> None:
        if not self._window or not self.values:
            self._window.clear()
            return
        pieces = list(self._window)
        text = "\n".join(pieces)
        for value in find_leaks(text, self.values):
            self.found.setdefault(value)
        if self.matcher is not None:
            for hit in self.matcher.find(text):
                self.found.setdefault(text[hit.start : hit.end])
        self._window.clear()
        self._size = 0
        if not keep_tail:
            return
        tail: list[str] = []
        folded = 0
        for piece in reversed(pieces):
            tail.append(piece)
            folded += len(fold(piece)) + 1
            if folded >= self._overlap:
                break
        for piece in reversed(tail):
            self._window[piece] = None
            self._size += len(piece) + 1


def value_matcher(values: Sequence[str]) -> TermMatcher | None:
    """The detector's declared-term rules over ``values``, for verification.

    Verification cannot ask ``plan.find`` about everything it re-reads: NER
    reads style, font and theme attributes (``Calibri``, ``LightList``, ``TOC``)
    as organisations, which in the strictest view would withhold every file
    and elsewhere would show the applicant those as suggestions. The
    declared-term matcher is what finds a value written as an identifier or
    with other separators, and it guesses nothing. Short names stay off: a
    value's first word alone is not a leak of it.
    """
    terms = build_terms([v for v in values if v.strip()], (), short_names=False)
    return TermMatcher(terms) if terms else None


def verify_package(
    data: bytes, sensitive_values: list[str], images: set[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(part, value) leaks and unreadable parts of a written package.

    Every part is read whole, edited or not: XML parts for their text and
    attribute values, part names themselves; the only non-XML parts allowed
    are ``images``, which the image engine wrote and verified itself. Parts
    are parsed as streams into :class:`TextCollector` and searched by
    :class:`LeakScan`, so a large sheet is never a tree in memory.

    A variant form of a value that the matcher (:func:`value_matcher`) finds
    is appended to ``sensitive_values`` (as ``plan.find`` appends what it
    meets), so a leak is always reported as a value of that list.
    """
    leaks: list[tuple[str, str]] = []
    unreadable: list[str] = []
    try:
        package = OfficePackage.open_bytes(data)
    except UnsupportedFile:
        return [], ["(package)"]
    matcher = value_matcher(sensitive_values)
    names = LeakScan(sensitive_values, matcher)
    names.add(package.parts)
    leaks.extend(("(part names)", v) for v in names.finish())
    for name in package.parts:
        if is_xml_part(package, name):
            texts, attributes = LeakScan(sensitive_values, matcher), LeakScan(sensitive_values, matcher)
            collector = TextCollector()

            def drain(
                collector: TextCollector = collector,
                texts: LeakScan = texts,
                attributes: LeakScan = attributes,
            ) -> None:
                texts.add(collector.pieces)
                collector.pieces.clear()
                attributes.add(collector.attributes)
                collector.attributes.clear()

            try:
                feed_part(package, name, collector, drain)
            except UnsupportedFile:
                unreadable.append(name)
                continue
            found = dict.fromkeys([*texts.finish(), *attributes.finish()])
            leaks.extend((name, v) for v in found)
        elif name not in images:
            unreadable.append(name)
    # A form that folds like a value is reported as that value (the report names values by index).
    known = {fold(v): v for v in sensitive_values}
    out: list[tuple[str, str]] = []
    for part, value in leaks:
        listed = known.get(fold(value))
        if listed is None:
            listed = known[fold(value)] = value
            sensitive_values.append(value)
        if (part, listed) not in out:
            out.append((part, listed))
    return out, unreadable
