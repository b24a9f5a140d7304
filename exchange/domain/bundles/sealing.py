"""Sealing: a signed archive, encrypted with age to one organisation's key.

Layout of the plaintext tar (POSIX pax, no compression — redacted PDFs and
images do not compress and compression ratios are a side channel):

    manifest.json        canonical JSON, see ``manifest.py``
    manifest.sig         raw Ed25519 signature over manifest.json
    files/<member name>  the redacted files

Member names are UTF-8 of any length: ustar's 100-byte name field cut
long and CJK names (or refused them), so pax extended headers carry every
name that does not fit; GNU tar, bsdtar and Python's tarfile read them.

The plaintext archive is written only inside the worker's private temporary
directory and encrypted from there; only the sealed form is stored.
Only the holder of the organisation's X25519 identity
can open it; the standard ``age`` tool opens it too.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import pyrage

from exchange.domain.errors import InvalidInput

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FILES_DIR = "files/"


def parse_recipient(value: str) -> pyrage.x25519.Recipient:
    """Validate an ``age1...`` X25519 public key; raise InvalidInput with a clear reason."""
    value = value.strip()
    if not value.startswith("age1"):
        raise InvalidInput("an age recipient must be an X25519 public key starting with 'age1'")
    try:
        return pyrage.x25519.Recipient.from_str(value)
    except Exception:  # noqa: BLE001  (pyrage raises its own untyped errors for any malformed key)
        raise InvalidInput("not a valid age X25519 public key (checksum or length is wrong)") from None


@dataclass(frozen=True, slots=True)
class BundleMember:
    name: str
    size: int
    stream: BinaryIO


def _add(tar: tarfile.TarFile, name: str, size: int, stream: BinaryIO) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, stream)


def write_archive(out: BinaryIO, manifest: bytes, signature: bytes, members: Iterable[BundleMember]) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        _add(tar, MANIFEST, len(manifest), io.BytesIO(manifest))
        _add(tar, SIGNATURE, len(signature), io.BytesIO(signature))
        for member in members:
            _add(tar, FILES_DIR + member.name, member.size, member.stream)


def seal(plain_archive: BinaryIO, out: BinaryIO, recipient: str) -> None:
    pyrage.encrypt_io(plain_archive, out, [parse_recipient(recipient)])


def open_sealed(sealed: BinaryIO, out: BinaryIO, identity: str) -> None:
    pyrage.decrypt_io(sealed, out, [pyrage.x25519.Identity.from_str(identity.strip())])


def new_identity() -> tuple[str, str]:
    """A fresh (secret identity, public recipient) pair, as age writes them."""
    ident = pyrage.x25519.Identity.generate()
    return str(ident), str(ident.to_public())
