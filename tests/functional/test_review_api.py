"""The applicant's review through the API on the real stack, down to the sealed bundles.

One case: a two-page PDF naming two customers (page 2 carries a serial plate
the applicant boxes for the bureau), a text file with a furnace profile the
applicant selects, and a CSV nobody touches. After the review only the PDF
and the text file run again; the CSV keeps its outputs. The bundles honour
every decision: the customer kept for the supplier is in its PDF, the other
one is not, the selection is gone for both, the bureau's page 2 is painted.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from exchange.models import CaseFile, RedactedFile
from exchange.models.database import Database
from tests.conftest import Stack
from tests.corpus.orders import Line, order_pdf
from tests.functional.sealed_case import extra_account
from tests.functional.test_api_flow import all_findings, open_bundle, pdftotext, upload, wait_for
from tests.functional.test_concurrency import _together
from tests.seed import World, bearer, new_case, seed_world

pytestmark = pytest.mark.integration

POLICY = """version: 1
name: review api
terms:
  customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""
ORDERS = (
    "Ship 2,000 N48 segments to Kestrel Dynamics GmbH, Stuttgart.\n"
    "Furnace profile: ramp 4 K/min to 1040 C, hold 3 h.\n"
    "End user: Oakridge Acoustics Ltd (loudspeaker drivers).\n"
)
PARTS = "part,customer,quantity\nN48-ARC,Kestrel Dynamics GmbH,2000\nN52-RING,Kestrel Dynamics GmbH,400\n"
SELECTED = "ramp 4 K/min to 1040 C"
#: the serial plate on page 2, in fractions of the page: left, top, right, bottom
PLATE_BOX = [0.08, 0.12, 0.75, 0.22]
END_USE_STATEMENT: tuple[Line, ...] = (
    (760, "End-use statement"),
    (730, "Buyer: Kestrel Dynamics GmbH, Stuttgart"),
    (700, "End user: Oakridge Acoustics Ltd"),
    (670, "Quantity: 2,000 N48 arc segments"),
)
#: page 2: y = 842 * (1 - 0.17) ~ 700 puts the plate inside PLATE_BOX
PLATE_PAGE: tuple[Line, ...] = ((700, "Serial plate ZX-4471-Q", 20), (400, "Inspection passed on 12 March"))


def end_use_pdf() -> bytes:
    return order_pdf(END_USE_STATEMENT, PLATE_PAGE, size=14)


def docx_bytes(tmp_path: Path) -> bytes:
    from tests.corpus.office import make_docx

    return make_docx(tmp_path / "order.docx").read_bytes()


def file_state(stack: Stack, file_id: str) -> tuple[int, str | None, set[tuple[str, str | None, str]]]:
    """(run, processed_key, outputs) of a file, read from the database the worker wrote."""
    database = Database(stack.settings.database_url)
    try:
        with database.sessions() as session:
            row = session.get(CaseFile, file_id)
            assert row is not None
            outputs = session.scalars(select(RedactedFile).where(RedactedFile.file_id == file_id)).all()
            return row.run, row.processed_key, {(o.recipient, o.blob_key, o.sha256) for o in outputs}
    finally:
        database.dispose()


def page_pixels(pdf: bytes, page: int) -> Image.Image:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "in.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "50",
                "-f",
                str(page),
                "-l",
                str(page),
                "-singlefile",
                str(source),
                str(Path(work) / "page"),
            ],
            capture_output=True,
            check=True,
        )
        return Image.open(Path(work) / "page.png").convert("L")


def submitted_events(client: FlaskClient, world: World, case_id: str) -> list[dict[str, Any]]:
    log = client.get(f"/api/v1/cases/{case_id}/access-log", headers=bearer(world.applicant)).get_json()
    return [e for e in log["events"] if e["action"] == "case.submitted"]


def test_review_reaches_the_sealed_bundles_and_reruns_only_changed_files(
    stack: Stack, client: FlaskClient, tmp_path: Path
) -> None:
    world = seed_world(stack.settings)
    app_h = bearer(world.applicant)
    case_id = new_case(client, world, "Review API", POLICY)
    pdf_id = upload(client, world, case_id, "end-use.pdf", end_use_pdf())
    txt_id = upload(client, world, case_id, "orders.txt", ORDERS.encode())
    csv_id = upload(client, world, case_id, "parts.csv", PARTS.encode())
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "review", stack=stack)
    untouched = file_state(stack, csv_id)
    assert untouched[1] is not None and len(untouched[2]) == 2
    # Nothing changed: a submit (even two at once) goes straight back to review and queues nothing.
    # With nothing to redo a submit ends at once, so the second may come after it (202) or meet
    # it half way (409); never both running, never an error.
    codes = _together(client.application, f"/api/v1/cases/{case_id}/submit", app_h)
    assert codes[0] == 202 and codes[1] in (202, 409), codes
    body = client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()
    assert body["status"] == "review" and body["progress"] == 100
    assert submitted_events(client, world, case_id)[-1]["detail"]["reprocessed"] == 0
    assert file_state(stack, csv_id) == untouched

    findings = all_findings(client, case_id, world.applicant.token, pdf_id)
    oak = next(f for f in findings if f["text"].startswith("Oakridge Acoustics"))
    assert oak["decisions"] == {"bureau": "redact", "supplier": "redact"} and oak["pending"] is False

    # Keep one customer for the supplier, in the PDF only.
    res = client.patch(
        f"/api/v1/cases/{case_id}/findings/{oak['id']}",
        headers=app_h,
        json={"recipient": "supplier", "decision": "keep"},
    )
    assert res.status_code == 200, res.get_json()
    shown = res.get_json()
    assert shown["id"] == oak["id"] and shown["decisions"] == {"bureau": "redact", "supplier": "keep"}
    assert shown["reviewed"] == {"supplier": "keep"} and shown["pending"] is True
    listed = all_findings(client, case_id, world.applicant.token, pdf_id)
    assert next(f for f in listed if f["id"] == oak["id"]) == shown
    assert client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()["status"] == "draft"

    # Select text in the text file for both recipients; a second selection is undone again.
    sel = f"/api/v1/cases/{case_id}/files/{txt_id}/selections"
    res = client.post(sel, headers=app_h, json={"text": SELECTED, "recipients": ["supplier", "bureau"]})
    assert res.status_code == 201, res.get_json()
    assert {d["recipient"] for d in res.get_json()["decisions"]} == {"supplier", "bureau"}
    res = client.post(sel, headers=app_h, json={"text": "2,000 N48", "recipients": ["supplier"]})
    assert res.status_code == 201, res.get_json()
    undo = res.get_json()["ids"][0]
    assert client.delete(f"/api/v1/cases/{case_id}/decisions/{undo}", headers=app_h).status_code == 204
    assert client.delete(f"/api/v1/cases/{case_id}/decisions/{undo}", headers=app_h).status_code == 404
    decisions = client.get(f"/api/v1/cases/{case_id}/decisions", headers=app_h).get_json()["decisions"]
    assert sorted((d["file_id"], d["recipient"], d["decision"]) for d in decisions) == sorted(
        [(pdf_id, "supplier", "keep"), (txt_id, "bureau", "redact"), (txt_id, "supplier", "redact")]
    )

    # Box the serial plate on page 2 for the bureau.
    boxes = f"/api/v1/cases/{case_id}/files/{pdf_id}/boxes"
    res = client.post(boxes, headers=app_h, json={"page": 2, "box": PLATE_BOX, "recipients": ["bureau"]})
    assert res.status_code == 201, res.get_json()
    box_id = res.get_json()["id"]
    assert [b["id"] for b in client.get(boxes, headers=app_h).get_json()["boxes"]] == [box_id]

    _bad_input(
        client, world, stack, case_id, pdf_id=pdf_id, csv_id=csv_id, finding_id=oak["id"], tmp=tmp_path
    )

    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "review", stack=stack)
    # Only the PDF and the text file ran again; the CSV kept its run, key and outputs.
    assert file_state(stack, csv_id) == untouched
    assert submitted_events(client, world, case_id)[-1]["detail"]["reprocessed"] == 2
    again = next(
        f for f in all_findings(client, case_id, world.applicant.token, pdf_id) if f["text"] == oak["text"]
    )
    assert again["decisions"]["supplier"] == "keep" and again["pending"] is False

    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "sealed", stack=stack)
    bundles = {}
    for account in (world.supplier, world.bureau):
        listed_bundles = client.get("/api/v1/bundles", headers=bearer(account)).get_json()["bundles"]
        raw = client.get(
            f"/api/v1/bundles/{listed_bundles[0]['id']}/download", headers=bearer(account)
        ).get_data()
        bundles[account.role] = open_bundle(raw, account.identity or "")

    supplier, bureau = bundles["supplier"], bundles["bureau"]
    supplier_pdf = pdftotext(supplier["files/end-use.pdf"])
    assert "Oakridge Acoustics Ltd" in supplier_pdf  # kept for the supplier
    assert "Kestrel" not in supplier_pdf and b"Kestrel" not in supplier["files/end-use.pdf"]
    assert "ZX-4471" in supplier_pdf  # the box is the bureau's only
    supplier_txt = supplier["files/orders.txt"].decode()
    assert SELECTED not in supplier_txt and "1040" not in supplier_txt
    assert "Oakridge" not in supplier_txt  # kept in the PDF only
    assert "2,000 N48" in supplier_txt  # the undone selection is not applied
    bureau_pdf = bureau["files/end-use.pdf"]
    bureau_text = pdftotext(bureau_pdf)
    assert "Oakridge" not in bureau_text and "Kestrel" not in bureau_text
    assert b"Oakridge" not in bureau_pdf
    assert SELECTED not in bureau["files/orders.txt"].decode()
    # Manual box (painted by the engines, commit ca35ac4): no text left under it, the region solid.
    assert "ZX-4471" not in bureau_text
    page = page_pixels(bureau_pdf, 2)
    width, height = page.size
    left, top, right, bottom = PLATE_BOX
    rect = (int(left * width) + 2, int(top * height) + 2, int(right * width) - 2, int(bottom * height) - 2)
    low, high = page.crop(rect).getextrema()  # type: ignore[misc]
    assert high - low <= 8, (low, high)  # one solid colour
    original = page_pixels(end_use_pdf(), 2)
    assert original.crop(rect).getextrema()[0] < 100  # type: ignore[index]  # the plate was there
    # The rest of the page is still shown (the inspection line, not boxed).
    below = (int(0.1 * width), int(0.50 * height), int(0.6 * width), int(0.55 * height))
    assert original.crop(below).getextrema()[0] < 100  # type: ignore[index]
    assert page.crop(below).getextrema()[0] < 100  # type: ignore[index]

    # A sealed case's review is read-only.
    res = client.patch(
        f"/api/v1/cases/{case_id}/findings/{again['id']}",
        headers=app_h,
        json={"recipient": "bureau", "decision": "keep"},
    )
    assert res.status_code == 409 and "sealed" in res.get_json()["error"]
    res = client.post(boxes, headers=app_h, json={"page": 1, "box": PLATE_BOX, "recipients": ["bureau"]})
    assert res.status_code == 409
    assert client.delete(f"{boxes}/{box_id}", headers=app_h).status_code == 409
    res = client.post(sel, headers=app_h, json={"text": "Stuttgart", "recipients": ["bureau"]})
    assert res.status_code == 409


def _bad_input(
    client: FlaskClient,
    world: World,
    stack: Stack,
    case_id: str,
    *,
    pdf_id: str,
    csv_id: str,
    finding_id: int,
    tmp: Path,
) -> None:
    app_h = bearer(world.applicant)
    patch = f"/api/v1/cases/{case_id}/findings/{finding_id}"
    for body, reason in (
        ({"recipient": "carrier", "decision": "keep"}, "recipient must be"),
        ({"recipient": "supplier", "decision": "maybe"}, "decision must be"),
        ({"recipient": "supplier", "decision": "keep", "scope": "world"}, "scope must be"),
    ):
        res = client.patch(patch, headers=app_h, json=body)
        assert res.status_code == 422 and reason in res.get_json()["error"], res.get_json()
    res = client.patch(patch, headers=app_h, data="{", content_type="application/json")
    assert res.status_code == 400 and "\n" not in res.get_json()["error"]
    assert (
        client.patch(f"/api/v1/cases/{case_id}/findings/999999999", headers=app_h, json={}).status_code == 404
    )
    assert client.patch(f"/api/v1/cases/{case_id}/findings/abc", headers=app_h, json={}).status_code == 404

    # A finding of another case, and a DOCX, in a second case of the same applicant.
    other = new_case(client, world, "Second case", POLICY)
    docx_id = upload(client, world, other, "order.docx", docx_bytes(tmp))
    res = client.patch(
        f"/api/v1/cases/{other}/findings/{finding_id}",
        headers=app_h,
        json={"recipient": "supplier", "decision": "keep"},
    )
    assert res.status_code == 404
    box = {"page": 1, "box": [0.1, 0.1, 0.5, 0.5], "recipients": ["bureau"]}
    not_a_page = "manual boxes apply to PDF pages and images; select the text to redact instead"
    for case, file_id, status, error in (
        (other, docx_id, 422, not_a_page),
        (other, pdf_id, 404, None),  # a file of one case named under another
        (case_id, csv_id, 422, None),
    ):
        res = client.post(f"/api/v1/cases/{case}/files/{file_id}/boxes", headers=app_h, json=box)
        assert res.status_code == status, (case, file_id, res.get_json())
        assert error is None or res.get_json()["error"] == error, res.get_json()

    boxes = f"/api/v1/cases/{case_id}/files/{pdf_id}/boxes"
    for body, reason in (
        ({"page": 1, "box": [0.5, 0.5, 0.4, 0.6], "recipients": ["bureau"]}, "left < right"),
        ({"page": 1, "box": "0.1,0.1,0.2,0.2", "recipients": ["bureau"]}, "box must be"),
        ({"page": 1, "box": [0.1, 0.1, 1.5, 0.2], "recipients": ["bureau"]}, "between 0 and 1"),
        ({"page": 0, "box": [0.1, 0.1, 0.2, 0.2], "recipients": ["bureau"]}, "page must be"),
        ({"page": 3, "box": [0.1, 0.1, 0.2, 0.2], "recipients": ["bureau"]}, "beyond the file's 2 page"),
        ({"page": 1, "box": [0.1, 0.1, 0.2, 0.2], "recipients": ["carrier"]}, "recipients must be"),
        ({"page": 1, "box": [0.1, 0.1, 0.2, 0.2]}, "recipients must be"),
    ):
        res = client.post(boxes, headers=app_h, json=body)
        assert res.status_code == 422 and reason in res.get_json()["error"], (body, res.get_json())
    res = client.post(
        f"/api/v1/cases/{case_id}/files/{pdf_id}/selections",
        headers=app_h,
        json={"text": "x" * 501, "recipients": ["bureau"]},
    )
    assert res.status_code == 422

    # Another applicant organisation, and a recipient, learn nothing: 404 / 403.
    stranger = bearer(extra_account(stack.settings, "applicant"))
    res = client.patch(patch, headers=stranger, json={"recipient": "supplier", "decision": "keep"})
    assert res.status_code == 404
    assert client.get(boxes, headers=stranger).status_code == 404
    assert client.get(f"/api/v1/cases/{case_id}/decisions", headers=stranger).status_code == 404
    res = client.post(boxes, headers=bearer(world.supplier), json={"page": 1, "box": [0.1, 0.1, 0.2, 0.2]})
    assert res.status_code in (403, 404)
