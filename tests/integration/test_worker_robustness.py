"""Bad files on the real worker: per-file reasons, no crash, fail closed, idempotent jobs."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pikepdf
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from exchange import create_app
from exchange.models import Bundle, CaseFile, RedactedFile
from exchange.services import processing, sharing
from exchange.services.context import ServiceContext
from tests.conftest import Stack
from tests.seed import new_case, seed_world

pytestmark = pytest.mark.integration

POLICY = """version: 1
name: robustness
terms: {customers: ["Kestrel Dynamics GmbH"]}
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""


@pytest.fixture
def client(stack: Stack) -> Iterator[FlaskClient]:
    app = create_app(stack.settings)
    yield app.test_client()
    app.extensions["exchange"].database.dispose()


def encrypted_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user="user-secret"))
    return out.getvalue()


def wait_status(
    client: FlaskClient, case_id: str, headers: dict[str, str], wanted: set[str], stack: Stack
) -> Any:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/cases/{case_id}", headers=headers).get_json()
        if body["status"] in wanted:
            return body
        time.sleep(0.3)
    pytest.fail(f"case stuck at {body['status']}\n{stack.worker_tail()}")


def test_bad_pdfs_fail_per_file_and_the_worker_survives(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    headers = {"Authorization": f"Bearer {world.applicant.token}"}
    case_id = new_case(client, world, "bad files", POLICY)
    files = {
        "good.txt": b"Order for Kestrel Dynamics GmbH.\n",
        "truncated.pdf": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Ty",
        "locked.pdf": encrypted_pdf(),
    }
    for name, data in files.items():
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=headers,
            data={"file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert res.status_code == 201, res.get_json()
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=headers).status_code == 202
    body = wait_status(client, case_id, headers, {"failed", "review"}, stack)
    assert body["status"] == "failed"
    by_name = {f["name"]: f for f in body["files"]}
    assert by_name["good.txt"]["status"] == "processed"
    assert by_name["locked.pdf"]["status"] == "failed"
    assert "password-protected" in by_name["locked.pdf"]["error"]
    assert by_name["truncated.pdf"]["status"] == "failed" and by_name["truncated.pdf"]["error"]
    for name in ("locked.pdf", "truncated.pdf"):
        assert "\n" not in by_name[name]["error"] and "Traceback" not in by_name[name]["error"]
        assert name in body["error"]
    assert stack.worker.poll() is None, "the worker died"
    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=headers).status_code == 409

    # Removing the bad files and submitting again gets the case to review on the same worker.
    for name in ("locked.pdf", "truncated.pdf"):
        res = client.delete(f"/api/v1/cases/{case_id}/files/{by_name[name]['id']}", headers=headers)
        assert res.status_code == 204
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=headers).status_code == 202
    assert wait_status(client, case_id, headers, {"review", "failed"}, stack)["status"] == "review"


def test_sealing_fails_closed_and_jobs_are_idempotent(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    headers = {"Authorization": f"Bearer {world.applicant.token}"}
    case_id = new_case(client, world, "fail closed", POLICY)
    client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=headers,
        data={"file": (io.BytesIO(b"Kestrel Dynamics GmbH ordered.\n"), "a.txt")},
        content_type="multipart/form-data",
    )
    client.post(f"/api/v1/cases/{case_id}/submit", headers=headers)
    assert wait_status(client, case_id, headers, {"review", "failed"}, stack)["status"] == "review"

    app = client.application
    wired = app.extensions["exchange"]
    with wired.database.session() as session:
        ctx = ServiceContext(session=session, blobs=wired.blobs, queue=wired.queue, settings=wired.settings)
        # A duplicate delivery of a finished file's job does nothing.
        file_id = session.scalar(select(CaseFile.id).where(CaseFile.case_id == case_id))
        assert file_id is not None
        assert processing.process_file(ctx, case_id, file_id, 1) == "skipped"
        # Pretend verification had failed for the supplier's copy: sealing must refuse to share anything.
        row = session.scalar(
            select(RedactedFile)
            .join(CaseFile)
            .where(CaseFile.case_id == case_id, RedactedFile.recipient == "supplier")
        )
        assert row is not None
        row.status = "leak"
        session.commit()

    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=headers).status_code == 202
    body = wait_status(client, case_id, headers, {"sealed", "failed"}, stack)
    assert body["status"] == "failed" and "nothing was shared" in body["error"]
    with wired.database.session() as session:
        bundles = session.scalars(select(Bundle).where(Bundle.case_id == case_id)).all()
        assert [b.recipient for b in bundles if b.recipient == "supplier"] == []
        ctx = ServiceContext(session=session, blobs=wired.blobs, queue=wired.queue, settings=wired.settings)
        assert sharing.seal_case(ctx, case_id, 1) == "skipped"
    assert client.get(
        "/api/v1/bundles", headers={"Authorization": f"Bearer {world.supplier.token}"}
    ).get_json() == {"bundles": []}
