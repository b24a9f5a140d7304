"""Adobe's predefined CMaps (``UniGB-UCS2-H``, ``GBK-EUC-V``, ``90ms-RKSJ-H``…) and CID→Unicode maps.

The tables are the ones pdfminer.six ships (Adobe's cmap-resources, stored as
gzipped JSON inside the package); nothing is fetched over a network and no
table is written here. This module only adapts them to the engine: split a
string into codes, code → CID, and the text of a code.

Invariants:

* A byte sequence that is not a code of the CMap, or a code the CMap does not
  map, yields CID ``None``; callers treat its text as unknown unless a
  ToUnicode map says otherwise, so such glyphs fail closed.
* Unicode-based CMaps (``Uni…-UCS2``/``UTF16``/``UTF8``/``UTF32``) take a
  code's text from the code itself, which is what the producer encoded; other
  CMaps go through their character collection's CID→Unicode map.
* Lookups are cached per process (``lru_cache``): the tables are immutable.

Threat assumption: the CMap name comes from the (untrusted) PDF, so it is
checked against a strict pattern before pdfminer sees it. pdfminer also looks
in ``$CMAP_PATH`` (default ``/usr/share/pdfminer``) before its own data; the
deployment must not put foreign files there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from pdfminer.cmapdb import CMapDB, CMapError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,40}")
COLLECTIONS = ("Adobe-GB1", "Adobe-CNS1", "Adobe-Japan1", "Adobe-Korea1")
_CODECS = (("UCS2", "utf-16-be"), ("UTF16", "utf-16-be"), ("UTF8", "utf-8"), ("UTF32", "utf-32-be"))
#: bytes per code of the fixed-width Unicode CMaps (UTF-16 surrogate pairs take 4).
_FIXED = {"utf-16-be": 2, "utf-32-be": 4}


def collection_of(name: str) -> str:
    """The character collection a predefined CMap's CIDs belong to (from Adobe's naming)."""
    if "GB" in name:
        return "Adobe-GB1"
    if any(key in name for key in ("CNS", "B5", "ETen", "HK")):
        return "Adobe-CNS1"
    if "KS" in name:
        return "Adobe-Korea1"
    return "Adobe-Japan1"


def _unicode_encoding(name: str) -> str | None:
    if not name.startswith("Uni"):
        return None
    for key, codec in _CODECS:
        if key in name:
            return codec
    return None


@dataclass(frozen=True, slots=True, eq=False)
class PredefinedCMap:
    name: str
    vertical: bool
    collection: str
    #: codec of the code bytes for Unicode-based CMaps, None otherwise.
    unicode_encoding: str | None
    #: pdfminer's code tree: byte → CID, or byte → subtree for longer codes.
    tree: Mapping[int, object]
    #: code (the big-endian integer of its bytes) → CID, flattened from ``tree``.
    cids: Mapping[int, int]

    def split(self, data: bytes) -> tuple[list[int], list[int]]:
        """Codes of ``data`` and their byte offsets (n + 1 entries); -1 marks a byte that starts no code."""
        codes: list[int] = []
        offsets = [0]
        i = 0
        n = len(data)
        fixed = _FIXED.get(self.unicode_encoding or "", 0)
        while i < n:
            if fixed:
                step = fixed
                if fixed == 2 and 0xD8 <= data[i] <= 0xDB:
                    step = 4  # a UTF-16 surrogate pair is one code
                if i + step > n:
                    codes.append(-1)
                    i = n
                else:
                    codes.append(int.from_bytes(data[i : i + step], "big"))
                    i += step
                offsets.append(i)
                continue
            node: object = self.tree
            start = i
            code = -1
            while i < n and isinstance(node, Mapping):
                byte = data[i]
                i += 1
                nxt = node.get(byte)
                if nxt is None:
                    break
                if isinstance(nxt, int):
                    code = int.from_bytes(data[start:i], "big")
                    break
                node = nxt
            if code < 0 and i - start > 1:
                # A lead byte followed by an unmapped trail byte: a code of known length without a CID.
                code = int.from_bytes(data[start:i], "big")
            codes.append(code)
            offsets.append(i)
        return codes, offsets

    def cid(self, code: int) -> int | None:
        return self.cids.get(code) if code >= 0 else None

    def code_text(self, code: int) -> str | None:
        """The text a Unicode-based CMap's code stands for (None for other CMaps or bad codes)."""
        codec = self.unicode_encoding
        if codec is None or code < 0:
            return None
        if codec == "utf-16-be":
            raw = code.to_bytes(4 if code > 0xFFFF else 2, "big")
        elif codec == "utf-32-be":
            raw = code.to_bytes(4, "big")
        else:
            raw = code.to_bytes(max((code.bit_length() + 7) // 8, 1), "big")
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            return None
        return text if len(text) == 1 else None


def _flatten(tree: Mapping[int, object]) -> dict[int, int]:
    out: dict[int, int] = {}
    stack: list[tuple[Mapping[int, object], int]] = [(tree, 0)]
    while stack:
        node, prefix = stack.pop()
        for byte, value in node.items():
            code = (prefix << 8) | byte
            if isinstance(value, int):
                out.setdefault(code, value)
            elif isinstance(value, Mapping):
                stack.append((value, code))
    return out


@lru_cache(maxsize=32)
def predefined_cmap(name: str) -> PredefinedCMap | None:
    """The predefined CMap called ``name``, or None when pdfminer ships no such CMap."""
    if not _NAME.fullmatch(name) or name.startswith("Identity"):
        return None
    try:
        cmap = CMapDB.get_cmap(name)
    except (CMapError, OSError, ValueError):
        return None
    tree = getattr(cmap, "code2cid", None)
    if not isinstance(tree, Mapping) or not tree:
        return None
    return PredefinedCMap(
        name=name,
        vertical=cmap.is_vertical(),
        collection=collection_of(name),
        unicode_encoding=_unicode_encoding(name),
        tree=tree,
        cids=_flatten(tree),
    )


@lru_cache(maxsize=8)
def cid_to_unicode(collection: str, vertical: bool = False) -> Mapping[int, str]:
    """CID → text for one of Adobe's four CJK character collections (empty when unknown)."""
    if collection not in COLLECTIONS:
        return {}
    try:
        umap = CMapDB.get_unicode_map(collection, vertical)
    except (CMapError, OSError, ValueError):
        return {}
    return umap.cid2unichr
