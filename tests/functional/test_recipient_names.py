"""Names a recipient sees (case title, file names) are redacted by that recipient's policy.

The supplier must find neither the declared customer nor the trade secret in
its bundle listing (API and page), its manifest or its archive member names;
the bureau, whose policy keeps customers, sees the customer but not the secret.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from exchange.domain.bundles.sealing import open_sealed
from tests.conftest import Stack
from tests.seed import PASSWORD, Account, bearer, new_case, seed_world

pytestmark = pytest.mark.integration

CUSTOMER = "Kestrel Dynamics GmbH"
SECRET = "N52SH-X"
POLICY = f"""
version: 1
name: recipient names
terms:
  customers: ["{CUSTOMER}"]
  trade_secrets: ["{SECRET}"]
recipients:
  bureau:
    redact: [TRADE_SECRET]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET]
"""
TITLE = f"Order for {CUSTOMER} ({SECRET})"
#: two names that redact to the same supplier name, and one with nothing to redact
FILES = {
    f"{CUSTOMER} order.txt": f"Ship 200 {SECRET} arcs to {CUSTOMER}.\n",
    f"{SECRET} order.txt": "Delivery in March.\n",
    "terms.txt": "Payment within 30 days.\n",
}
#: what the supplier must never see, in any spelling the detector folds to
HIDDEN_FROM_SUPPLIER = ("kestrel", "n52sh")
BOX = "\u2588" * 8


def wait_for(client: FlaskClient, case_id: str, account: Account, want: str, stack: Stack) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/cases/{case_id}", headers=bearer(account)).get_json()
        if body["status"] == want:
            return body
        if body["status"] == "failed":
            pytest.fail(f"case failed: {body.get('error')}\n{stack.worker_tail()}")
        time.sleep(0.3)
    pytest.fail(f"case stayed {body.get('status')} (wanted {want})\n{stack.worker_tail()}")


def open_bundle(raw: bytes, identity: str) -> tuple[list[str], dict[str, bytes]]:
    plain = io.BytesIO()
    open_sealed(io.BytesIO(raw), plain, identity)
    plain.seek(0)
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        members = tar.getmembers()
        data = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    return [m.name for m in members], data


def page_as(client: FlaskClient, email: str, path: str) -> str:
    login = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', login)
    assert match
    res = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)})
    assert res.status_code == 302
    page = client.get(path)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def assert_hidden(text: str, where: str) -> None:
    folded = text.casefold()
    for value in HIDDEN_FROM_SUPPLIER:
        assert value not in folded, f"{value!r} reached the supplier in {where}"


def test_recipients_see_names_redacted_by_their_policy(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    case_id = new_case(client, world, TITLE, POLICY)
    for name, text in FILES.items():
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=bearer(world.applicant),
            data={"file": (io.BytesIO(text.encode()), name)},
            content_type="multipart/form-data",
        )
        assert res.status_code == 201, res.get_json()
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    review = wait_for(client, case_id, world.applicant, "review", stack)
    for file in review["files"]:
        for output in file["outputs"].values():
            assert output["ocr"]["used"] is False and output["withheld"] is None
            assert isinstance(output["needs_review"], bool)
    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=bearer(world.applicant)).status_code == 202
    wait_for(client, case_id, world.applicant, "sealed", stack)

    # The applicant still sees the originals.
    mine = client.get("/api/v1/cases", headers=bearer(world.applicant)).get_json()["cases"]
    assert [c["title"] for c in mine if c["id"] == case_id] == [TITLE]

    # Supplier: listing, page, manifest and member names.
    listing = client.get("/api/v1/bundles", headers=bearer(world.supplier))
    listed = listing.get_json()["bundles"]
    assert [b["case_id"] for b in listed] == [case_id]
    assert_hidden(listing.get_data(as_text=True), "GET /api/v1/bundles")
    assert listed[0]["case_title"] == f"Order for {BOX} ({BOX})"
    assert_hidden(page_as(client, world.supplier.email, "/bundles"), "the bundles page")

    raw = client.get(f"/api/v1/bundles/{listed[0]['id']}/download", headers=bearer(world.supplier)).get_data()
    names, members = open_bundle(raw, world.supplier.identity or "")
    assert_hidden("\n".join(names), "tar member names")
    assert_hidden(members["manifest.json"].decode(), "manifest.json")
    manifest = json.loads(members["manifest.json"])
    assert manifest["case"]["title"] == listed[0]["case_title"]
    entries = [f["name"] for f in manifest["files"]]
    assert len(entries) == len(set(entries)) == len(FILES)  # colliding redacted names stay distinct
    assert sorted("files/" + n for n in entries) == sorted(n for n in names if n.startswith("files/"))
    # Both order files redact to the same name; the second gets a counter, and a
    # name with nothing to redact is unchanged.
    assert sorted(entries) == sorted([f"{BOX} order.txt", f"{BOX} order (2).txt", "terms.txt"])
    for name in entries:
        assert_hidden(members["files/" + name].decode(), f"files/{name}")

    # Bureau: its policy keeps customers, so it sees the customer but not the secret.
    listed = client.get("/api/v1/bundles", headers=bearer(world.bureau)).get_json()["bundles"]
    assert CUSTOMER in listed[0]["case_title"] and SECRET not in listed[0]["case_title"]
    raw = client.get(f"/api/v1/bundles/{listed[0]['id']}/download", headers=bearer(world.bureau)).get_data()
    names, members = open_bundle(raw, world.bureau.identity or "")
    manifest = json.loads(members["manifest.json"])
    assert manifest["case"]["title"] == listed[0]["case_title"]
    assert any(CUSTOMER in n for n in names) and not any(SECRET in n for n in names)
    assert SECRET not in members["manifest.json"].decode()
