"""Page previews through the real stack: upload, process, render on the worker, read the PNGs.

The supplier's view must show the customer boxed: Tesseract reads the name
on the original page and on the bureau's page (its policy keeps the name),
and not on the supplier's. Only the case's applicant gets any page.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from exchange import create_app
from tests.conftest import Stack
from tests.functional.sealed_case import extra_account
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


def order_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont("Helvetica", 20)
    pdf.drawString(72, 760, "Purchase order 4711")
    pdf.drawString(72, 720, "Buyer: Kestrel Dynamics GmbH")
    pdf.drawString(72, 680, "Quantity: 2,000 arc segments")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture
def client(stack: Stack) -> Iterator[FlaskClient]:
    app = create_app(stack.settings)
    yield app.test_client()
    app.extensions["exchange"].database.dispose()


def wait_status(client: FlaskClient, path: str, world: World, want: str, stack: Stack) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        res = client.get(path, headers=bearer(world.applicant))
        assert res.status_code == 200, res.get_data()[:300]
        body = res.get_json()
        if body.get("status") == want:
            return body
        assert body.get("status") != "failed", body
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
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=bearer(world.applicant),
        data={"file": (io.BytesIO(order_pdf()), "order.pdf")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 201, res.get_json()
    file_id = res.get_json()["id"]
    pages = f"/api/v1/cases/{case_id}/files/{file_id}/pages"

    # Before processing there is nothing yet: the client is told to come back.
    early = client.get(pages + "/1.png", headers=bearer(world.applicant))
    assert early.status_code == 202 and early.get_json() == {"status": "rendering"}
    assert early.headers["Retry-After"].isdigit()
    assert client.get(pages, headers=bearer(world.applicant)).get_json()["status"] == "waiting"

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
