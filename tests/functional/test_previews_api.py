"""Page previews through the real stack: upload, process, render on the worker, read the PNGs.

The supplier's view must show the customer boxed: Tesseract reads the name
on the original page and on the bureau's page (its policy keeps the name),
and not on the supplier's. Only the case's applicant gets any page.
"""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import delete, select

from exchange.adapters.blobstores import blob_store
from exchange.models import CaseFile, PageImage
from exchange.models.database import Database
from exchange.services import previews
from exchange.services.context import ServiceContext
from tests.conftest import Stack
from tests.corpus.orders import Line, order_pdf
from tests.functional.sealed_case import extra_account
from tests.functional.test_api_flow import upload
from tests.seed import World, bearer, new_case, seed_world

pytestmark = pytest.mark.integration

POLICY = """version: 1
name: previews
terms:
  customers: ["Kestrel Dynamics GmbH"]
recipients:
  bureau:
    redact: [TRADE_SECRET]
  supplier:
    redact: [CUSTOMER]
"""


#: set large (size=20), so that Tesseract reads the page images at preview resolution
ORDER: tuple[Line, ...] = (
    (760, "Purchase order 4711"),
    (720, "Buyer: Kestrel Dynamics GmbH"),
    (680, "Quantity: 2,000 arc segments"),
)


def wait_status(client: FlaskClient, path: str, world: World, want: str, stack: Stack) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    body: dict[str, Any] = {}
    asked = False
    while time.monotonic() < deadline:
        res = client.get(path, headers=bearer(world.applicant))
        assert res.status_code == 200, res.get_data()[:300]
        body = res.get_json()
        if body.get("status") == want:
            return body
        assert body.get("status") != "failed", body
        if body.get("status") == "rendering" and not asked:
            # Pages are rendered when the review asks for them, as the review page does.
            assert client.post(path, headers=bearer(world.applicant)).status_code in (200, 202)
            asked = True
        time.sleep(0.5)
    pytest.fail(f"{path} stayed {body.get('status')} (wanted {want})\n{stack.worker_tail()}")


def ocr(png: bytes) -> str:
    return subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "eng", "--psm", "3"],
        input=png,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout.decode("utf-8", "replace")


def test_pages_of_each_view(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    case_id = new_case(client, world, "Previews", POLICY)
    file_id = upload(client, world, case_id, "order.pdf", order_pdf(ORDER, size=20))
    pages = f"/api/v1/cases/{case_id}/files/{file_id}/pages"

    # Before processing there is nothing yet: the client is told to come back.
    early = client.get(pages + "/1.png", headers=bearer(world.applicant))
    assert early.status_code == 202 and early.get_json() == {"status": "rendering"}
    assert early.headers["Retry-After"].isdigit()
    assert client.get(pages, headers=bearer(world.applicant)).get_json()["status"] == "waiting"
    asked = client.post(pages, headers=bearer(world.applicant))
    assert asked.status_code == 409 and "not processed" in asked.get_json()["error"]

    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    summary = wait_status(client, pages, world, "ready", stack)
    assert summary["pages"] == 1 and summary["page_count"] == 1
    assert sorted(summary["views"]) == ["bureau", "original", "supplier"]
    marks = summary["marks"]["1"]
    assert any(m["entity_type"] == "CUSTOMER" and "Kestrel" in m["text"] for m in marks), marks
    left, top, right, bottom = next(m["box"] for m in marks if m["entity_type"] == "CUSTOMER")
    # "Buyer: Kestrel Dynamics GmbH" at y=720pt of 842 from the bottom, x from 72pt of 595.
    assert 0.12 < left < 0.4 and right < 0.75 and 0.12 < top < bottom < 0.2, marks

    read: dict[str, str] = {}
    for view in ("original", "supplier", "bureau"):
        res = client.get(f"{pages}/1.png?view={view}", headers=bearer(world.applicant))
        assert res.status_code == 200, res.get_data()[:300]
        assert res.mimetype == "image/png"
        assert res.headers["Cache-Control"].startswith("private, max-age=")
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        image = Image.open(io.BytesIO(res.get_data()))
        assert image.format == "PNG" and max(image.size) == 1200 and image.size[0] < image.size[1]
        read[view] = ocr(res.get_data())
    assert "Kestrel" in read["original"], read["original"]
    assert "Kestrel" in read["bureau"], read["bureau"]
    assert "Kestrel" not in read["supplier"] and "Dynamics" not in read["supplier"], read["supplier"]
    assert "Quantity" in read["supplier"]  # the rest of the page is still there

    # A page beyond the file, and a view that does not exist.
    beyond = client.get(f"{pages}/2.png", headers=bearer(world.applicant))
    assert beyond.status_code == 404 and "1 page" in beyond.get_json()["error"]
    bad = client.get(f"{pages}/1.png?view=carrier", headers=bearer(world.applicant))
    assert bad.status_code == 400 and "view must be one of" in bad.get_json()["error"]

    # Nobody but the case's applicant sees a page, original or not.
    other_applicant = extra_account(stack.settings, "applicant")
    for account, allowed in (
        (world.supplier, (403, 404)),
        (world.bureau, (403, 404)),
        (world.outsider, (403, 404)),
        (other_applicant, (404,)),
    ):
        for view in ("original", "supplier", "bureau"):
            res = client.get(f"{pages}/1.png?view={view}", headers=bearer(account))
            assert res.status_code in allowed, (account.email, view, res.status_code)
            assert not res.get_data().startswith(b"\x89PNG")
        assert client.get(pages, headers=bearer(account)).status_code in allowed
    assert client.get(f"{pages}/1.png").status_code == 401


def test_page_images_are_encrypted_at_rest(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    case_id = new_case(client, world, "Previews at rest", POLICY)
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=bearer(world.applicant),
        data={"file": (io.BytesIO(b"Order for Kestrel Dynamics GmbH, 40 segments.\n"), "order.txt")},
        content_type="multipart/form-data",
    )
    file_id = res.get_json()["id"]
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    pages = f"/api/v1/cases/{case_id}/files/{file_id}/pages"
    summary = wait_status(client, pages, world, "ready", stack)
    assert summary["pages"] == 1, summary  # LibreOffice made one page of the text file
    assert summary["marks"]["1"], summary
    png = client.get(f"{pages}/1.png?view=supplier", headers=bearer(world.applicant)).get_data()
    assert png.startswith(b"\x89PNG")
    root = Path(stack.settings.blob_url.removeprefix("file://"))
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert stored
    clear = [p for p in stored if p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"]
    assert not clear, "a page image is stored in the clear"

    # Deleting the file deletes its page images too, not only its rows.
    database, ctx = _service_context(stack)
    try:
        keys = _page_keys(ctx, file_id)
    finally:
        ctx.session.close()
        database.dispose()
    assert keys and all((root / key).is_file() for key in keys)
    deleted = client.delete(f"/api/v1/cases/{case_id}/files/{file_id}", headers=bearer(world.applicant))
    assert deleted.status_code in (200, 204), deleted.get_data()
    assert not [key for key in keys if (root / key).exists()], "page images of a deleted file remain"


class _NoQueue:
    def enqueue(self, task_name: str, *args: object) -> None:
        raise AssertionError("these calls queue nothing")


def _service_context(stack: Stack) -> tuple[Database, ServiceContext]:
    database = Database(stack.settings.database_url)
    ctx = ServiceContext(
        session=database.sessions(),
        blobs=blob_store(stack.settings),
        queue=_NoQueue(),
        settings=stack.settings,
    )
    return database, ctx


def _page_keys(ctx: ServiceContext, file_id: str) -> set[str]:
    ctx.session.rollback()
    rows = ctx.session.scalars(select(PageImage.blob_key).where(PageImage.file_id == file_id))
    return {key for key in rows if key}


def test_rendering_is_idempotent_replaces_old_pages_and_follows_a_rerun(
    stack: Stack, client: FlaskClient
) -> None:
    world = seed_world(stack.settings)
    case_id = new_case(client, world, "Previews again", POLICY)
    file_id = upload(client, world, case_id, "order.pdf", order_pdf(ORDER, size=20))
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    pages = f"/api/v1/cases/{case_id}/files/{file_id}/pages"
    first = wait_status(client, pages, world, "ready", stack)

    database, ctx = _service_context(stack)
    try:
        row = ctx.session.get(CaseFile, file_id)
        assert row is not None
        run = row.run
        # Delivered twice, or for an outdated run: nothing happens.
        assert previews.render_pages(ctx, case_id, file_id, run) == "skipped"
        assert previews.render_pages(ctx, case_id, file_id, run + 1) == "skipped"
        old = _page_keys(ctx, file_id)
        assert len(old) == 3  # one page per view

        # A failure replaces the pages (their blobs go), and readers see why instead of waiting.
        assert previews.mark_failed(ctx, case_id, file_id, run, "the renderer broke") == "rendered"
        failed = client.get(pages, headers=bearer(world.applicant)).get_json()
        assert failed["status"] == "failed" and failed["reason"] == "the renderer broke"
        png = client.get(f"{pages}/1.png", headers=bearer(world.applicant))
        assert png.status_code == 404 and "the renderer broke" in png.get_json()["error"]
        assert not [key for key in old if ctx.blobs.exists(key)]
        # ...and the job, delivered again, renders them anew.
        assert previews.render_pages(ctx, case_id, file_id, run) == "rendered"
        again = client.get(pages, headers=bearer(world.applicant)).get_json()
        assert again["status"] == "ready" and again["generation"] == first["generation"]
        assert _page_keys(ctx, file_id).isdisjoint(old)

        # A file whose pages are gone (processed before previews existed): the applicant asks for them.
        ctx.session.execute(delete(PageImage).where(PageImage.file_id == file_id))
        ctx.session.commit()
        assert client.get(pages, headers=bearer(world.applicant)).get_json()["status"] == "rendering"
        for account in (world.supplier, world.outsider):
            assert client.post(pages, headers=bearer(account)).status_code in (403, 404)
        asked = client.post(pages, headers=bearer(world.applicant))
        assert asked.status_code == 202 and asked.headers["Retry-After"].isdigit()
        assert wait_status(client, pages, world, "ready", stack)["pages"] == 1
        assert client.post(pages, headers=bearer(world.applicant)).get_json() == {"status": "ready"}
    finally:
        ctx.session.close()
        database.dispose()

    # The applicant lets the supplier see the customer; after the next run the supplier's page shows it.
    finding = next(
        f
        for f in client.get(f"/api/v1/cases/{case_id}/findings", headers=bearer(world.applicant)).get_json()[
            "findings"
        ]
        if f["entity_type"] == "CUSTOMER"
    )
    res = client.patch(
        f"/api/v1/cases/{case_id}/findings/{finding['id']}",
        headers=bearer(world.applicant),
        json={"recipient": "supplier", "decision": "keep"},
    )
    assert res.status_code == 200, res.get_json()
    assert "Kestrel" not in ocr(
        client.get(f"{pages}/1.png?view=supplier", headers=bearer(world.applicant)).data
    )
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    deadline = time.monotonic() + 240
    summary: dict[str, Any] = {}
    asked = False
    while time.monotonic() < deadline:
        summary = client.get(pages, headers=bearer(world.applicant)).get_json()
        if summary["status"] == "ready" and summary["generation"] != first["generation"]:
            break
        if summary["status"] == "rendering" and not asked:
            assert client.post(pages, headers=bearer(world.applicant)).status_code in (200, 202)
            asked = True
        time.sleep(0.5)
    else:
        pytest.fail(f"the pages were not rendered again: {summary}\n{stack.worker_tail()}")
    supplier = client.get(
        f"{pages}/1.png?view=supplier&v={summary['generation']}", headers=bearer(world.applicant)
    )
    assert "Kestrel" in ocr(supplier.data)
