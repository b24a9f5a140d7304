from __future__ import annotations

import io
import tarfile

import pytest

from exchange.domain.bundles.manifest import ManifestEntry, build_manifest, manifest_bytes, safe_member_name
from exchange.domain.bundles.sealing import (
    BundleMember,
    new_identity,
    open_sealed,
    parse_recipient,
    seal,
    write_archive,
)
from exchange.domain.bundles.signing import (
    generate_signing_key,
    load_signing_key,
    public_key_pem,
    sign,
    verify,
)
from exchange.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\orders.pdf", "orders.pdf"),
        ("re\u0301sume\u0301.txt", "résumé.txt"),
        ("bad\x00name\n.txt", "badname.txt"),
        ("...", "file"),
        ("a<b>|c.pdf", "a_b_c.pdf"),
        ("Order for \u2588\u2588\u2588 [CUSTOMER-1].pdf", "Order for \u2588\u2588\u2588 [CUSTOMER-1].pdf"),
    ],
)
def test_member_names_are_flat_and_printable(given: str, expected: str) -> None:
    assert safe_member_name(given, set()) == expected


def test_member_names_are_unique_case_insensitively() -> None:
    taken: set[str] = set()
    names = [safe_member_name(n, taken) for n in ("a.pdf", "A.pdf", "a.pdf")]
    assert names == ["a.pdf", "A (2).pdf", "a (3).pdf"]


def test_recipient_validation() -> None:
    _, recipient = new_identity()
    parse_recipient(recipient)
    with pytest.raises(InvalidInput, match="age1"):
        parse_recipient("ssh-ed25519 AAAA")
    with pytest.raises(InvalidInput, match="checksum"):
        parse_recipient(recipient[:-1] + ("q" if recipient[-1] != "q" else "p"))


def test_signed_sealed_archive_round_trip() -> None:
    key = load_signing_key(generate_signing_key())
    manifest = build_manifest(
        bundle_id="b",
        case_id="c",
        case_title="t",
        recipient="supplier",
        organisation="S",
        created_at="2026-01-01T00:00:00+00:00",
        policy_hash=None,
        entries=[ManifestEntry("a.txt", 5, "00" * 32, "text/plain")],
    )
    body = manifest_bytes(manifest)
    signature = sign(key, body)
    plain = io.BytesIO()
    write_archive(plain, body, signature, [BundleMember("a.txt", 5, io.BytesIO(b"hello"))])
    plain.seek(0)
    identity, recipient = new_identity()
    sealed = io.BytesIO()
    seal(plain, sealed, recipient)
    assert b"hello" not in sealed.getvalue() and b"manifest" not in sealed.getvalue()
    sealed.seek(0)
    opened = io.BytesIO()
    open_sealed(sealed, opened, identity)
    opened.seek(0)
    with tarfile.open(fileobj=opened) as tar:
        names = tar.getnames()
        got_body = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
        got_sig = tar.extractfile("manifest.sig").read()  # type: ignore[union-attr]
    assert names == ["manifest.json", "manifest.sig", "files/a.txt"]
    assert verify(public_key_pem(key), got_body, got_sig)
    assert not verify(public_key_pem(key), got_body.replace(b"supplier", b"bureau__"), got_sig)
    other_identity, _ = new_identity()
    sealed.seek(0)
    with pytest.raises(Exception):  # noqa: B017, PT011  (pyrage.DecryptError)
        open_sealed(sealed, io.BytesIO(), other_identity)
