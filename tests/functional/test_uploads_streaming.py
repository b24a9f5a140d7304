"""Streaming uploads against a real gunicorn process: limits, memory, no plaintext on disk."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import Stack
from tests.functional.live_server import LiveServer, live_server
from tests.seed import World, bearer, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

MIB = 1024 * 1024
BOUNDARY = "sx-test-boundary-7f3a"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def new_case(server: LiveServer, world: World, title: str = "streaming") -> str:
    res = requests.post(
        server.url + "/api/v1/cases",
        headers=bearer(world.applicant),
        json={"title": title, "supplier_org": world.supplier.org, "bureau_org": world.bureau.org},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    return str(res.json()["id"])


def multipart(name: str, content: Iterator[bytes]) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    yield from content
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def text_content(total: int, marker: str) -> Iterator[bytes]:
    line = f"order line {marker} Kestrel Dynamics GmbH\n".encode()
    block = line * (256 * 1024 // len(line))
    sent = 0
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece


def upload(server: LiveServer, world: World, case_id: str, body: Iterator[bytes]) -> requests.Response:
    # A generator body goes out with Transfer-Encoding: chunked.
    return requests.post(
        f"{server.url}/api/v1/cases/{case_id}/files",
        headers={**bearer(world.applicant), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        data=body,
        timeout=300,
    )


def files_of(server: LiveServer, world: World, case_id: str) -> list[dict[str, object]]:
    res = requests.get(f"{server.url}/api/v1/cases/{case_id}", headers=bearer(world.applicant), timeout=30)
    files: list[dict[str, object]] = res.json()["files"]
    return files


def files_containing(root: Path, marker: bytes, since: float) -> list[Path]:
    found = []
    for dirpath, _dirs, names in os.walk(root, onerror=lambda _e: None):
        for name in names:
            path = Path(dirpath) / name
            try:
                if not path.is_file() or path.stat().st_mtime < since:
                    continue
                with path.open("rb") as handle:
                    while chunk := handle.read(4 * MIB):
                        if marker in chunk:
                            found.append(path)
                            break
            except OSError:
                continue
    return found


def open_files(pid: int) -> set[str]:
    targets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("/"):
            targets.add(target)
    return targets


def spool_suspects(opened: set[str], baseline: set[str], blob_root: Path) -> set[str]:
    """Files opened during an upload other than the store's own (encrypted) and the database's.

    A spooled body would show as a new file, usually unlinked ("(deleted)").
    """
    return {
        target
        for target in opened - baseline
        if not target.startswith(str(blob_root)) and not target.endswith(("-journal", "-wal", "-shm"))
    }


def send_chunked(port: int, path: str, headers: dict[str, str], body: Iterator[bytes]) -> tuple[int, bytes]:
    """Send a chunked request while reading its answer; the server may answer before the body ends."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    answer = bytearray()
    done = threading.Event()

    def read() -> None:
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer.extend(data)
                head_end = answer.find(b"\r\n\r\n")
                if head_end >= 0:
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in answer[:head_end].split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    if len(answer) >= head_end + 4 + length:
                        break
        except OSError:
            pass
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        sock.sendall(head.encode())
        for piece in body:
            if done.is_set():
                break
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server may close once it has answered
    done.wait(60)
    sock.close()
    status_line = bytes(answer).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 "), bytes(answer[:200])
    return int(status_line.split()[1]), bytes(answer)


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    return seed_world(stack.settings)


@pytest.fixture(scope="module")
def big_server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**stack.env, "EXCHANGE_MAX_UPLOAD_BYTES": str(64 * MIB), "EXCHANGE_MAX_CONCURRENT_UPLOADS": "4"}
    with live_server(env, tmp_path_factory.mktemp("web") / "gunicorn.log") as server:
        yield server


def test_chunked_body_over_the_limit_is_refused_and_leaves_no_plaintext(
    stack: Stack, world: World, tmp_path: Path
) -> None:
    assert stack.settings.max_upload_bytes == 2 * MIB
    with live_server(stack.env, tmp_path / "gunicorn.log") as server:
        case_id = new_case(server, world)
        marker = "MARKER-" + secrets.token_hex(12)
        started = time.time() - 1
        pid = server.worker_pid()
        baseline = open_files(pid)
        seen_open: set[str] = set()

        def body() -> Iterator[bytes]:
            for n, piece in enumerate(multipart("big.txt", text_content(60 * MIB, marker))):
                if n % 2 == 0:
                    seen_open.update(open_files(pid))
                yield piece

        status, answer = send_chunked(
            server.port,
            f"/api/v1/cases/{case_id}/files",
            {**bearer(world.applicant), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            body(),
        )
        assert status == 413, answer[:500]
        assert b"larger than the 2 MiB limit; nothing was stored" in answer, answer[:500]
        assert seen_open, "the worker's open files were not sampled"
        assert spool_suspects(seen_open, baseline, stack.settings.blob_root) == set()
        assert files_of(server, world, case_id) == []
        assert server.proc.poll() is None
    needle = marker.encode()
    assert files_containing(Path("/tmp"), needle, started) == []
    assert files_containing(stack.settings.instance_path, needle, started) == []


def test_a_45_mib_upload_keeps_the_web_process_small(world: World, big_server: LiveServer) -> None:
    case_id = new_case(big_server, world)
    # Warm up: imports, sessions and the sniffers are loaded before measuring.
    warm = upload(big_server, world, case_id, multipart("warm.txt", text_content(MIB, "warm")))
    assert warm.status_code == 201, warm.text
    before = big_server.rss_bytes()
    digest = hashlib.sha256()

    def content() -> Iterator[bytes]:
        for piece in text_content(45 * MIB, "big"):
            digest.update(piece)
            yield piece

    res = upload(big_server, world, case_id, multipart("forty-five.txt", content()))
    assert res.status_code == 201, res.text
    assert res.json()["size"] == 45 * MIB and res.json()["sha256"] == digest.hexdigest()
    after = big_server.rss_bytes()
    assert after - before < 20 * MIB, (before, after)


def _zip_with_content_types_in_the_middle(main_type: str | None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        # Stored, incompressible padding on both sides: the part list is neither
        # near the start nor inside the tail window the sniffer keeps.
        archive.writestr(zipfile.ZipInfo("word/media/a.bin"), os.urandom(3 * MIB))
        overrides = (
            f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>' if main_type else ""
        )
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f"{overrides}</Types>",
        )
        archive.writestr(zipfile.ZipInfo("word/media/b.bin"), os.urandom(3 * MIB))
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_office_type_is_sniffed_from_the_stored_blob(world: World, big_server: LiveServer) -> None:
    case_id = new_case(big_server, world)
    docx = _zip_with_content_types_in_the_middle(DOCX_MAIN)
    res = upload(big_server, world, case_id, multipart("statement.docx", iter([docx])))
    assert res.status_code == 201, res.text
    assert res.json()["media_type"].endswith("wordprocessingml.document")
    plain_zip = _zip_with_content_types_in_the_middle(None)
    res = upload(big_server, world, case_id, multipart("archive.zip", iter([plain_zip])))
    assert res.status_code == 422 and "ZIP archive" in res.json()["error"]
    assert len(files_of(big_server, world, case_id)) == 1


def test_refused_and_broken_uploads_keep_nothing(stack: Stack, world: World, big_server: LiveServer) -> None:
    case_id = new_case(big_server, world)
    blobs = stack.settings.blob_root
    before = {p for p in blobs.rglob("*") if p.is_file()}
    gif = upload(big_server, world, case_id, multipart("a.gif", iter([b"GIF89a" + b"\x00" * 20000])))
    assert gif.status_code == 422 and "GIF" in gif.json()["error"]
    name = upload(big_server, world, case_id, multipart("a\x01b.txt", iter([b"hello\n"])))
    assert name.status_code == 422 and name.json()["error"] == "the file name contains control characters"

    def truncated() -> Iterator[bytes]:
        yield from list(multipart("cut.txt", text_content(MIB, "cut")))[:-1]

    cut = upload(big_server, world, case_id, truncated())
    assert cut.status_code == 400 and "closing boundary" in cut.json()["error"]
    two_files = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="one.txt"\r\n\r\none\n'
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="two.txt"\r\n\r\ntwo\n'
        f"\r\n--{BOUNDARY}--\r\n"
    ).encode()
    two = upload(big_server, world, case_id, iter([two_files]))
    assert two.status_code == 422 and "one file per request" in two.json()["error"]
    assert files_of(big_server, world, case_id) == []
    assert {p for p in blobs.rglob("*") if p.is_file()} == before


def test_uploads_beyond_the_slots_get_503_with_retry_after(
    stack: Stack, world: World, tmp_path: Path
) -> None:
    env = {**stack.env, "EXCHANGE_MAX_CONCURRENT_UPLOADS": "1"}
    with live_server(env, tmp_path / "gunicorn.log") as server:
        case_id = new_case(server, world)
        release = threading.Event()
        first: list[requests.Response] = []

        def slow_body() -> Iterator[bytes]:
            parts = list(multipart("slow.txt", iter([b"first part\n"])))
            yield parts[0]
            yield parts[1]
            release.wait(30)
            yield parts[2]

        holder = threading.Thread(target=lambda: first.append(upload(server, world, case_id, slow_body())))
        holder.start()
        time.sleep(1.0)
        busy = upload(server, world, case_id, multipart("second.txt", iter([b"second\n"])))
        release.set()
        holder.join(60)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert first and first[0].status_code == 201, first and first[0].text
        after = upload(server, world, case_id, multipart("third.txt", iter([b"third\n"])))
        assert after.status_code == 201
