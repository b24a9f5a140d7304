"""Resumable uploads (tus 1.0) against gunicorn, driven by an independent tus client (tuspy).

An interrupted upload continues where it stopped: the bytes already stored
are not sent again, and the file that results is byte-for-byte the one sent,
checked like any upload. Plaintext never reaches the disk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import update
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from exchange.adapters.blobstores import blob_store
from exchange.models import UploadSession
from exchange.models.database import Database
from exchange.services import resumable
from exchange.services.context import ServiceContext
from tests.conftest import Stack
from tests.functional.live_server import LiveServer, live_server
from tests.functional.test_uploads_streaming import new_case
from tests.seed import Account, World, bearer, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    return seed_world(stack.settings)


@pytest.fixture(scope="module")
def server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**stack.env, "EXCHANGE_MAX_UPLOAD_BYTES": str(16 * MIB)}
    with live_server(env, tmp_path_factory.mktemp("web") / "gunicorn.log") as live:
        yield live


def _content(size: int, marker: str) -> bytes:
    line = f"order {marker} for Kestrel Dynamics GmbH, lot 7\n".encode()
    return (line * (size // len(line) + 1))[:size]


def _files(server: LiveServer, world: World, case_id: str) -> list[dict[str, object]]:
    res = requests.get(f"{server.url}/api/v1/cases/{case_id}", headers=bearer(world.applicant), timeout=30)
    assert res.status_code == 200, res.text
    return list(res.json()["files"])


def _store_holds(stack: Stack, needle: bytes) -> list[Path]:
    return [
        path
        for path in Path(stack.env["EXCHANGE_INSTANCE"]).rglob("*")
        if path.is_file() and path.stat().st_size < 64 * MIB and needle in path.read_bytes()
    ]


def test_an_interrupted_upload_continues_where_it_stopped(
    stack: Stack, server: LiveServer, world: World
) -> None:
    case_id = new_case(server, world, "resumable")
    marker = "RESUME-" + secrets.token_hex(8)
    data = _content(9 * MIB + 12345, marker)
    endpoint = f"{server.url}/api/v1/cases/{case_id}/uploads"

    first = tus_client.TusClient(endpoint, headers=bearer(world.applicant))
    uploader = first.uploader(
        file_stream=io.BytesIO(data), chunk_size=MIB, metadata={"filename": "orders.txt"}, store_url=False
    )
    uploader.upload(stop_at=4 * MIB)  # the "connection" drops after four chunks
    url = uploader.url
    assert url and "/api/v1/uploads/" in url
    state = requests.get(url, headers=bearer(world.applicant), timeout=30).json()
    assert state["offset"] == 4 * MIB and not state["complete"]
    assert not _store_holds(stack, marker.encode()), "an upload part was stored in the clear"

    # A new client (a reloaded page) asks for the offset and sends only the rest.
    second = tus_client.TusClient(endpoint, headers=bearer(world.applicant))
    resumed = second.uploader(file_stream=io.BytesIO(data), chunk_size=MIB, url=url)
    assert resumed.get_offset() == 4 * MIB
    patches_before = resumed.offset
    resumed.upload()
    assert patches_before == 4 * MIB and resumed.offset == len(data)

    state = requests.get(url, headers=bearer(world.applicant), timeout=30).json()
    assert state["complete"] and state["file_id"]
    (row,) = [f for f in _files(server, world, case_id) if f["id"] == state["file_id"]]
    assert row["name"] == "orders.txt" and row["size"] == len(data)
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert not _store_holds(stack, marker.encode()), "the assembled upload was stored in the clear"


def _create(server: LiveServer, world: World, case_id: str, length: int, name: str, **headers: str) -> str:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    res = requests.post(
        f"{server.url}/api/v1/cases/{case_id}/uploads",
        headers={
            **bearer(world.applicant),
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": meta,
            **headers,
        },
        timeout=30,
    )
    assert res.status_code == 201, res.text
    assert res.headers["Tus-Resumable"] == "1.0.0" and res.headers["Upload-Offset"] == "0"
    return str(res.headers["Location"])


def _patch(url: str, account: Account, offset: int, body: bytes, **headers: str) -> requests.Response:
    return requests.patch(
        url,
        headers={
            **bearer(account),
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
        data=body,
        timeout=60,
    )


def test_protocol_errors_get_one_line_reasons(server: LiveServer, world: World) -> None:
    case_id = new_case(server, world, "resumable")
    data = _content(3000, "x")
    url = _create(server, world, case_id, len(data), "a.txt")

    wrong_offset = _patch(url, world.applicant, 100, data[:100])
    assert wrong_offset.status_code == 409 and "resume from there" in wrong_offset.json()["error"]
    no_version = requests.patch(
        url,
        headers={
            **bearer(world.applicant),
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        data=data,
        timeout=30,
    )
    assert no_version.status_code == 412
    wrong_type = _patch(url, world.applicant, 0, data, **{"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    too_much = _patch(url, world.applicant, 0, data + b"more than announced")
    assert too_much.status_code == 413 and "more bytes than the upload announced" in too_much.json()["error"]
    # Nothing was taken by the refused requests: the whole file still goes in from 0.
    done = _patch(url, world.applicant, 0, data)
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))
    assert done.headers.get("X-File-Id")
    again = _patch(url, world.applicant, len(data), b"x")
    assert again.status_code == 409

    huge = requests.post(
        f"{server.url}/api/v1/cases/{case_id}/uploads",
        headers={**bearer(world.applicant), **TUS, "Upload-Length": str(17 * MIB)},
        timeout=30,
    )
    assert huge.status_code == 413
    bad_length = requests.post(
        f"{server.url}/api/v1/cases/{case_id}/uploads",
        headers={**bearer(world.applicant), **TUS, "Upload-Length": "-5"},
        timeout=30,
    )
    assert bad_length.status_code == 422 and "Upload-Length" in bad_length.json()["error"]
    bad_meta = requests.post(
        f"{server.url}/api/v1/cases/{case_id}/uploads",
        headers={**bearer(world.applicant), **TUS, "Upload-Length": "10", "Upload-Metadata": "filename !!!"},
        timeout=30,
    )
    assert bad_meta.status_code == 422 and "base64" in bad_meta.json()["error"]


def test_a_lying_type_is_refused_at_the_first_bytes_and_the_session_ends(
    stack: Stack, server: LiveServer, world: World
) -> None:
    case_id = new_case(server, world, "resumable")
    html = b"<!DOCTYPE html><html><body>" + b"x" * 5000 + b"</body></html>"
    url = _create(server, world, case_id, len(html) * 3, "report.pdf")
    refused = _patch(url, world.applicant, 0, html)
    assert 400 <= refused.status_code < 500 and refused.json()["error"]
    gone = requests.get(url, headers=bearer(world.applicant), timeout=30)
    assert gone.status_code == 404
    assert not [f for f in _files(server, world, case_id) if f["name"] == "report.pdf"]


def test_only_the_uploader_sees_or_continues_an_upload(server: LiveServer, world: World) -> None:
    case_id = new_case(server, world, "resumable")
    data = _content(2000, "mine")
    url = _create(server, world, case_id, len(data), "mine.txt")
    for other in (world.supplier, world.bureau, world.outsider):
        assert requests.get(url, headers=bearer(other), timeout=30).status_code == 404
        assert _patch(url, other, 0, data).status_code == 404
    assert requests.get(url, timeout=30).status_code == 401
    # a stranger cannot start an upload into the case either
    res = requests.post(
        f"{server.url}/api/v1/cases/{case_id}/uploads",
        headers={**bearer(world.supplier), **TUS, "Upload-Length": "10"},
        timeout=30,
    )
    assert res.status_code in (403, 404)


def _stored_parts(stack: Stack) -> int:
    return sum(1 for path in Path(stack.env["EXCHANGE_INSTANCE"]).rglob("uploadpart/**/*") if path.is_file())


def test_termination_deletes_the_stored_parts(stack: Stack, server: LiveServer, world: World) -> None:
    case_id = new_case(server, world, "resumable")
    data = _content(4 * MIB, "T")
    url = _create(server, world, case_id, len(data), "cancel.txt")
    assert _patch(url, world.applicant, 0, data[:MIB]).status_code == 204
    parts_before = sum(
        1 for _ in Path(stack.env["EXCHANGE_INSTANCE"]).rglob("uploadpart/**/*") if _.is_file()
    )
    assert parts_before >= 1
    res = requests.delete(url, headers={**bearer(world.applicant), **TUS}, timeout=30)
    assert res.status_code == 204
    assert requests.get(url, headers=bearer(world.applicant), timeout=30).status_code == 404
    parts_after = _stored_parts(stack)
    assert parts_after == parts_before - 1


def test_the_client_library_sees_refusals(server: LiveServer, world: World) -> None:
    case_id = new_case(server, world, "resumable")
    client = tus_client.TusClient(
        f"{server.url}/api/v1/cases/{case_id}/uploads", headers=bearer(world.supplier)
    )
    uploader = client.uploader(
        file_stream=io.BytesIO(b"hello"), chunk_size=MIB, metadata={"filename": "a.txt"}
    )
    with pytest.raises(TusCommunicationError):
        uploader.upload()


def test_abandoned_uploads_expire_with_their_parts(stack: Stack, server: LiveServer, world: World) -> None:
    case_id = new_case(server, world, "resumable")
    data = _content(2 * MIB, "E")
    url = _create(server, world, case_id, len(data), "abandoned.txt")
    assert _patch(url, world.applicant, 0, data[:MIB]).status_code == 204
    before = _stored_parts(stack)
    upload_id = url.rsplit("/", 1)[1]
    database = Database(stack.settings.database_url)
    session = database.sessions()
    try:
        session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
        # The reconciler's step, alone: a whole pass would also act on other tests' cases.
        blobs = blob_store(stack.settings)
        ctx = ServiceContext(session=session, blobs=blobs, queue=None, settings=stack.settings)  # type: ignore[arg-type]
        expired = resumable.expire(ctx)
    finally:
        session.close()
        database.dispose()
    assert expired >= 1
    assert _stored_parts(stack) == before - 1
    assert requests.get(url, headers=bearer(world.applicant), timeout=30).status_code == 404
