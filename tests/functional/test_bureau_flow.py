"""The bureau asks, the applicant supplements, a second bundle version follows: the real stack.

Flask app, real database, Redis and a Celery worker; bundles are opened with
the recipients' age identities and the manifest is checked with the
``openssl`` command the inbox page documents.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient

from exchange import create_app
from exchange.domain.bundles.sealing import open_sealed
from exchange.models import Case
from exchange.web.wiring import service_context
from tests.conftest import Stack
from tests.functional.sealed_case import extra_account
from tests.seed import World, bearer, new_case, seed_world

pytestmark = pytest.mark.integration

POLICY = """version: 1
name: bureau exchange
terms:
  customers: ["Kestrel Dynamics GmbH"]
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""
TITLE = "Magnets for Kestrel Dynamics GmbH"
ORDERS = b"Ship 2,000 N48 segments to Kestrel Dynamics GmbH, Stuttgart.\n"
CERTIFICATE = b"End-user certificate: Kestrel Dynamics GmbH builds loudspeaker drivers only.\n"
QUESTION = "Please send the end-user certificate for the 2,000 segments."


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _wait(client: FlaskClient, case_id: str, world: World, want: str, stack: Stack) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.applicant)).get_json()
        if body["status"] == want:
            return body
        assert body["status"] != "failed", f"{body}\n{stack.worker_tail()}"
        time.sleep(0.3)
    raise AssertionError(f"case stayed {body.get('status')} (wanted {want})\n{stack.worker_tail()}")


def _upload(client: FlaskClient, world: World, case_id: str, name: str, data: bytes) -> str:
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=bearer(world.applicant),
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert res.status_code == 201, res.get_json()
    return str(res.get_json()["id"])


def _process_and_seal(client: FlaskClient, world: World, case_id: str, stack: Stack) -> None:
    res = client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant))
    assert res.status_code == 202, res.get_json()
    _wait(client, case_id, world, "review", stack)
    res = client.post(f"/api/v1/cases/{case_id}/approve", headers=bearer(world.applicant))
    assert res.status_code == 202, res.get_json()
    _wait(client, case_id, world, "sealed", stack)


def _open(raw: bytes, identity: str) -> dict[str, bytes]:
    plain = io.BytesIO()
    open_sealed(io.BytesIO(raw), plain, identity)
    plain.seek(0)
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _inbox(client: FlaskClient, account: Any) -> list[dict[str, Any]]:
    res = client.get("/api/v1/inbox", headers=bearer(account))
    assert res.status_code == 200, res.get_json()
    return list(res.get_json()["cases"])


def _error(res: Any, status: int) -> str:
    assert res.status_code == status, (res.status_code, res.get_data()[:300])
    body = res.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    assert "Traceback" not in body["error"] and "\n" not in body["error"]
    return str(body["error"])


def test_request_supplement_second_version(
    stack: Stack, app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    world = seed_world(stack.settings)
    other_bureau = extra_account(stack.settings, "bureau")
    app_h, sup_h, bur_h = bearer(world.applicant), bearer(world.supplier), bearer(world.bureau)
    case_id = new_case(client, world, TITLE, POLICY)
    _upload(client, world, case_id, "orders.txt", ORDERS)

    # Before anything is sealed the case is nobody's but the applicant's.
    for account in (world.supplier, world.bureau):
        assert client.get(f"/api/v1/cases/{case_id}/versions", headers=bearer(account)).status_code == 404
    assert _inbox(client, world.bureau) == []

    _process_and_seal(client, world, case_id, stack)

    # --- version 1: each recipient sees its own bundle, under the title as its bundle has it
    sup_v = client.get(f"/api/v1/cases/{case_id}/versions", headers=sup_h).get_json()
    bur_v = client.get(f"/api/v1/cases/{case_id}/versions", headers=bur_h).get_json()
    assert [(v["version"], v["recipient"]) for v in sup_v["versions"]] == [(1, "supplier")]
    assert [(v["version"], v["recipient"]) for v in bur_v["versions"]] == [(1, "bureau")]
    assert "status" not in sup_v and sup_v["bureau_status"] == "under_review"
    v1_bureau, v1_supplier = bur_v["versions"][0]["bundle_id"], sup_v["versions"][0]["bundle_id"]
    assert bur_v["versions"][0]["previous_id"] is None
    [card] = _inbox(client, world.bureau)
    assert card["case_id"] == case_id and card["sender"] == world.applicant.org
    assert "Kestrel" not in json.dumps(card) and card["case_title"].startswith("Magnets for ")
    assert card["versions"][0]["downloaded"] is False and card["can_request"] is True
    assert [f["name"] for f in card["versions"][0]["files"]] == ["orders.txt"]
    assert card["versions"][0]["files"][0]["version"] == 1

    # --- bad input and the wrong callers
    requests_url = f"/api/v1/cases/{case_id}/information-requests"
    status_url = f"/api/v1/cases/{case_id}/bureau-status"
    supplement_url = f"/api/v1/cases/{case_id}/supplement"
    assert "supplement" in _error(client.post(supplement_url, headers=app_h), 409)
    assert "message" in _error(client.post(requests_url, headers=bur_h, json={"message": ""}), 422)
    _error(client.post(requests_url, headers=bur_h, json={"message": "   \n "}), 422)
    _error(client.post(requests_url, headers=bur_h, json={"message": 42}), 422)
    _error(client.post(requests_url, headers=bur_h, json={}), 422)
    assert "too long" in _error(client.post(requests_url, headers=bur_h, json={"message": "x" * 4001}), 422)
    _error(client.post(requests_url, headers=bur_h, data="message=hi", content_type="text/plain"), 400)
    assert "status must be one of" in _error(
        client.put(status_url, headers=bur_h, json={"status": "done"}), 422
    )
    _error(client.put(status_url, headers=bur_h, json={"status": None}), 422)
    _error(client.post(requests_url, headers=sup_h, json={"message": QUESTION}), 403)
    _error(client.put(status_url, headers=sup_h, json={"status": "approved"}), 403)
    _error(client.get(requests_url, headers=sup_h), 403)
    _error(client.post(requests_url, headers=app_h, json={"message": QUESTION}), 403)
    _error(client.put(status_url, headers=app_h, json={"status": "approved"}), 403)
    for stranger in (other_bureau, world.outsider):
        headers = bearer(stranger)
        _error(client.post(requests_url, headers=headers, json={"message": QUESTION}), 404)
        _error(client.put(status_url, headers=headers, json={"status": "approved"}), 404)
        _error(client.get(requests_url, headers=headers), 404)
        _error(client.get(f"/api/v1/cases/{case_id}/versions", headers=headers), 404)
        _error(client.post(supplement_url, headers=headers), 404)
        assert _inbox(client, stranger) == []
    _error(client.get("/api/v1/inbox", headers=app_h), 403)
    _error(client.post(supplement_url, headers=bur_h), 403)
    _error(client.post("/api/v1/cases/nope/information-requests", headers=bur_h, json={"message": "x"}), 404)
    # Nothing above changed the case.
    assert client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()["bureau_status"] == "under_review"

    # --- the bureau asks
    res = client.post(requests_url, headers=bur_h, json={"message": f"  {QUESTION}  "})
    assert res.status_code == 201, res.get_json()
    request_id = res.get_json()["id"]
    [asked] = client.get(requests_url, headers=app_h).get_json()["requests"]
    assert asked["id"] == request_id and asked["message"] == QUESTION and asked["open"] is True
    assert asked["version"] == 1 and asked["created_at"].endswith("+00:00")
    assert client.get(requests_url, headers=bur_h).get_json()["requests"][0]["message"] == QUESTION
    view = client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()
    assert view["bureau_status"] == "information_requested"
    # The supplier learns that information was requested, never what.
    [sup_card] = _inbox(client, world.supplier)
    assert sup_card["bureau_status"] == "information_requested"
    assert sup_card["information_requests"]["open"] == 1 and "requests" not in sup_card
    assert "end-user certificate" not in json.dumps(sup_card)
    # The access log names the request, never its text.
    log = client.get(f"/api/v1/cases/{case_id}/access-log", headers=app_h).get_json()
    requested = [e for e in log["events"] if e["action"] == "case.information_requested"]
    assert [e["detail"]["request_id"] for e in requested] == [request_id]
    assert "end-user certificate" not in json.dumps(log)

    # --- the applicant answers with a supplement
    res = client.post(supplement_url, headers=app_h)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["status"] == "draft"
    _error(client.post(supplement_url, headers=app_h), 409)  # a double click starts one supplement
    # While the supplement is prepared, the bureau waits for the next version.
    _error(client.post(requests_url, headers=bur_h, json={"message": "more?"}), 409)
    _error(client.put(status_url, headers=bur_h, json={"status": "approved"}), 409)
    assert _inbox(client, world.bureau)[0]["can_request"] is False
    assert client.get(f"/api/v1/cases/{case_id}/versions", headers=app_h).get_json()["version"] == 2
    _upload(client, world, case_id, "certificate.txt", CERTIFICATE)
    _process_and_seal(client, world, case_id, stack)

    # --- version 2 for both recipients, linked to version 1, holding every file
    bur_v = client.get(f"/api/v1/cases/{case_id}/versions", headers=bur_h).get_json()
    sup_v = client.get(f"/api/v1/cases/{case_id}/versions", headers=sup_h).get_json()
    assert [v["version"] for v in bur_v["versions"]] == [1, 2]
    assert [v["version"] for v in sup_v["versions"]] == [1, 2]
    assert bur_v["versions"][1]["previous_id"] == v1_bureau
    assert sup_v["versions"][1]["previous_id"] == v1_supplier
    assert bur_v["bureau_status"] == "under_review"
    everything = client.get(f"/api/v1/cases/{case_id}/versions", headers=app_h).get_json()
    assert sorted((v["version"], v["recipient"]) for v in everything["versions"]) == [
        (1, "bureau"),
        (1, "supplier"),
        (2, "bureau"),
        (2, "supplier"),
    ]
    [answered] = client.get(requests_url, headers=app_h).get_json()["requests"]
    assert answered["open"] is False and answered["answered_version"] == 2 and answered["answered_at"]

    [card] = _inbox(client, world.bureau)
    assert [v["version"] for v in card["versions"]] == [1, 2]
    v2 = card["versions"][1]
    assert v2["file_count"] == 2
    assert sorted((f["name"], f["version"]) for f in v2["files"]) == [
        ("certificate.txt", 2),
        ("orders.txt", 1),
    ]
    assert v2["downloaded"] is False
    res = client.get(f"/api/v1/bundles/{v2['bundle_id']}/download", headers=bur_h)
    assert res.status_code == 200
    members = _open(res.get_data(), world.bureau.identity or "")
    assert sorted(members) == ["files/certificate.txt", "files/orders.txt", "manifest.json", "manifest.sig"]
    assert (
        b"Kestrel" not in members["files/certificate.txt"]
        and b"loudspeaker" in members["files/certificate.txt"]
    )
    assert b"Kestrel" not in members["files/orders.txt"] and b"2,000 N48" in members["files/orders.txt"]
    manifest = json.loads(members["manifest.json"])
    assert "Kestrel" not in manifest["case"]["title"] and manifest["case"]["title"] == card["case_title"]
    # The verification the inbox documents works on the real bundle.
    if shutil.which("openssl"):
        (tmp_path / "manifest.json").write_bytes(members["manifest.json"])
        (tmp_path / "manifest.sig").write_bytes(members["manifest.sig"])
        (tmp_path / "signing-key.pem").write_bytes(client.get("/api/v1/signing-key").get_data())
        verify = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin"]
        verify += ["-in", "manifest.json", "-sigfile", "manifest.sig"]
        checked = subprocess.run(verify, cwd=tmp_path, capture_output=True, check=False)
        assert checked.returncode == 0 and b"Signature Verified Successfully" in checked.stdout, checked
        (tmp_path / "manifest.json").write_bytes(members["manifest.json"].replace(b"orders", b"ord3rs"))
        tampered = subprocess.run(verify, cwd=tmp_path, capture_output=True, check=False)
        assert tampered.returncode != 0
    [card] = _inbox(client, world.bureau)
    assert card["versions"][1]["downloaded"] is True and card["versions"][1]["downloaded_at"]
    assert card["versions"][0]["downloaded"] is False
    assert card["requests"][0]["answered_version"] == 2

    # --- the bureau decides; the applicant and the supplier see it
    res = client.put(status_url, headers=bur_h, json={"status": "approved"})
    assert res.status_code == 200 and res.get_json()["bureau_status"] == "approved"
    assert _inbox(client, world.supplier)[0]["bureau_status"] == "approved"
    assert _inbox(client, world.supplier)[0]["information_requests"]["open"] == 0
    assert client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()["bureau_status"] == "approved"
    _error(client.post(supplement_url, headers=app_h), 409)  # nothing was asked now
    log = client.get(f"/api/v1/cases/{case_id}/access-log", headers=app_h).get_json()
    actions = [e["action"] for e in log["events"]]
    for wanted in ("case.information_requested", "case.supplement_started", "case.bureau_status"):
        assert wanted in actions, actions
    assert log["chain"]["ok"] is True

    # --- the pages: the inbox in Chinese for the bureau, the applicant's partial
    client.set_cookie("lang", "zh_CN")
    page = client.get("/inbox", headers=bur_h)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kestrel" not in html and world.applicant.org in html
    assert "已批准" in html and "版本 2" in html and "补充" in html
    assert "openssl pkeyutl -verify" in html and "/api/v1/signing-key" in html
    assert client.get("/inbox", headers=app_h).status_code == 403
    client.set_cookie("lang", "en")
    supplier_page = client.get("/inbox", headers=sup_h).get_data(as_text=True)
    assert 'data-status="approved">approved<' in supplier_page and "Send request" not in supplier_page
    assert client.get("/", headers=bur_h).headers["Location"].endswith("/inbox")
    with app.test_request_context(f"/cases/{case_id}", headers=app_h):
        app.preprocess_request()
        case = service_context().session.get(Case, case_id)
        partial = render_template("_case_exchange.html", case=case)
    assert "approved" in partial and "Send a supplement" not in partial
    assert QUESTION in partial  # answered requests stay readable for the applicant
