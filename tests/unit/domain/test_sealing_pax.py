"""Bundle archives keep member names of any length and script (pax headers)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from exchange.domain.bundles.sealing import BundleMember, new_identity, open_sealed, seal, write_archive

LONG = "Endverbleibserklärung-" + "x" * 270 + ".txt"
CHINESE = "最终用途声明_稀土永磁体_第四十一号申请.txt"


def sealed_bundle() -> tuple[bytes, str, dict[str, bytes]]:
    contents = {LONG: b"long name\n", CHINESE: "中文内容\n".encode()}
    plain = io.BytesIO()
    members = [BundleMember(name, len(data), io.BytesIO(data)) for name, data in contents.items()]
    write_archive(plain, b'{"format": 1}', b"sig", members)
    plain.seek(0)
    identity, recipient = new_identity()
    out = io.BytesIO()
    seal(plain, out, recipient)
    return out.getvalue(), identity, contents


def test_long_and_chinese_names_survive_python_tarfile() -> None:
    sealed, identity, contents = sealed_bundle()
    assert len(LONG) > 255
    plain = io.BytesIO()
    open_sealed(io.BytesIO(sealed), plain, identity)
    plain.seek(0)
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        read = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert read == {"manifest.json": b'{"format": 1}', "manifest.sig": b"sig"} | {
        f"files/{name}": data for name, data in contents.items()
    }


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
def test_long_and_chinese_names_survive_gnu_tar(tmp_path: Path) -> None:
    sealed, identity, contents = sealed_bundle()
    plain = io.BytesIO()
    open_sealed(io.BytesIO(sealed), plain, identity)
    archive = tmp_path / "bundle.tar"
    archive.write_bytes(plain.getvalue())
    env = {"LC_ALL": "C.UTF-8"}
    listing = subprocess.run(["tar", "-tf", str(archive)], check=True, capture_output=True, env=env).stdout
    assert {f"files/{name}" for name in contents} <= set(listing.decode().splitlines())
    for name, data in contents.items():
        # To stdout: a 300-byte name is more than a Linux file system holds, not more than tar does.
        member = subprocess.run(
            ["tar", "-xOf", str(archive), f"files/{name}"], check=True, capture_output=True, env=env
        ).stdout
        assert member == data
