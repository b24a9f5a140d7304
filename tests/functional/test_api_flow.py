"""The whole API flow on the real stack: Flask app, real database, Redis and a Celery worker."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from exchange.domain.bundles.sealing import open_sealed
from exchange.domain.bundles.signing import verify
from tests.conftest import Stack
from tests.corpus.orders import Line, order_pdf
from tests.seed import World, bearer, new_case, seed_world

pytestmark = pytest.mark.integration

POLICY = """
version: 1
name: NdFeB magnets, application 41
terms:
  customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
  trade_secrets: ["grain boundary diffusion"]
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET]
    keep: ["Oakridge Acoustics Ltd"]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET, EMAIL_ADDRESS]
"""

ORDERS = (
    "Customer order 4711\n"
    "Ship 2,000 N48 segments to KESTREL DYNAMICS GmbH, Stuttgart.\n"
    "End user: Oakridge Acoustics Ltd (loudspeaker drivers).\n"
    "Contact: buyer@kestrel-dynamics.de\n"
)
PROCESS = (
    "Our coercivity comes from grain boundary\ndiffusion of terbium; Kestrel Dynamics' line 3 uses it.\n"
)


BAD_RECIPIENT_POLICY = """version: 1
name: bad
terms: {customers: ["Kestrel Dynamics GmbH"]}
recipients:
  carrier: {redact: [CUSTOMER]}
"""


END_USE_STATEMENT: tuple[Line, ...] = (
    (760, "End-use statement"),
    (740, "The magnets are for Oakridge Acoustics Ltd, who build loudspeakers."),
    (720, "Intermediate buyer: Kestrel Dynamics GmbH, Stuttgart."),
    (700, "Quantity: 2,000 N48 arc segments."),
)


def pdftotext(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(
    client: FlaskClient, case_id: str, token: str, want: str, *, stack: Stack, timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/cases/{case_id}", headers=auth(token)).get_json()
        if body["status"] == want:
            return body
        if body["status"] == "failed":
            pytest.fail(f"case failed: {body.get('error')}\n{stack.worker_tail()}")
        time.sleep(0.3)
    pytest.fail(f"case stayed {body.get('status')} (wanted {want})\n{stack.worker_tail()}")


def upload(client: FlaskClient, world: World, case_id: str, name: str, data: bytes) -> str:
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=bearer(world.applicant),
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert res.status_code == 201, res.get_json()
    return str(res.get_json()["id"])


def supplier_bundle(client: FlaskClient, world: World) -> dict[str, bytes]:
    """The members of the supplier's one sealed bundle, downloaded and opened with its identity."""
    headers = bearer(world.supplier)
    (listed,) = client.get("/api/v1/bundles", headers=headers).get_json()["bundles"]
    raw = client.get(f"/api/v1/bundles/{listed['id']}/download", headers=headers).get_data()
    return open_bundle(raw, world.supplier.identity or "")


def open_bundle(raw: bytes, identity: str) -> dict[str, bytes]:
    plain = io.BytesIO()
    open_sealed(io.BytesIO(raw), plain, identity)
    plain.seek(0)
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_whole_api_flow(stack: Stack, client: FlaskClient, tmp_path: Any) -> None:
    world: World = seed_world(stack.settings)
    app_h, sup_h, bur_h, out_h = (
        auth(a.token) for a in (world.applicant, world.supplier, world.bureau, world.outsider)
    )

    res = client.post(
        "/api/v1/cases",
        headers=app_h,
        json={
            "title": "NdFeB magnets 41",
            "supplier_org": world.supplier.org,
            "bureau_org": world.bureau.org,
        },
    )
    assert res.status_code == 201, res.get_json()
    case_id = res.get_json()["id"]

    assert (
        client.put(
            f"/api/v1/cases/{case_id}/policy", headers=app_h, data=POLICY, content_type="application/yaml"
        ).status_code
        == 200
    )
    uploads = {
        "orders.txt": ORDERS.encode(),
        "process-notes.txt": PROCESS.encode(),
        "end-use.pdf": order_pdf(END_USE_STATEMENT, title="End-use statement for Kestrel Dynamics GmbH"),
    }
    for name, data in uploads.items():
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=app_h,
            data={"file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert res.status_code == 201, res.get_json()
        body = res.get_json()
        assert body["name"] == name and body["size"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()

    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h).status_code == 202
    review = wait_for(client, case_id, world.applicant.token, "review", stack=stack)
    assert review["progress"] == 100
    found = {f["text"] for f in all_findings(client, case_id, world.applicant.token)}
    assert "findings" not in review["files"][0] and review["files"][0]["findings_total"] >= 1
    assert any("KESTREL DYNAMICS" in t for t in found), found
    assert any("grain boundary" in t for t in found), found

    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "sealed", stack=stack)

    # The supplier sees exactly its bundle and can open it with its own identity.
    listed = client.get("/api/v1/bundles", headers=sup_h).get_json()["bundles"]
    assert [b["case_id"] for b in listed] == [case_id]
    bundle_id = listed[0]["id"]
    res = client.get(f"/api/v1/bundles/{bundle_id}/download", headers=sup_h)
    assert res.status_code == 200
    raw = res.get_data()
    assert hashlib.sha256(raw).hexdigest() == listed[0]["sha256"]
    members = open_bundle(raw, world.supplier.identity or "")
    manifest = json.loads(members["manifest.json"])
    public_key = client.get("/api/v1/signing-key").get_data(as_text=True)
    assert verify(public_key, members["manifest.json"], members["manifest.sig"])
    assert manifest["recipient"]["organisation"] == world.supplier.org
    assert sorted(f["name"] for f in manifest["files"]) == sorted(uploads)
    for entry in manifest["files"]:
        data = members["files/" + entry["name"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["size"]
    supplier_pdf = members["files/end-use.pdf"]
    supplier_text = (
        b"".join(members["files/" + n] for n in uploads if n.endswith(".txt")).decode()
        + pdftotext(supplier_pdf)
    ).casefold()
    assert b"Kestrel" not in supplier_pdf and b"Oakridge" not in supplier_pdf
    for secret in ("kestrel", "oakridge", "grain boundary", "buyer@"):
        assert secret not in supplier_text, secret
    assert "2,000 n48 segments" in supplier_text  # unredacted content survives

    # The standard age tool opens the bundle too, when installed.
    if shutil.which("age"):
        key = tmp_path / "supplier.agekey"
        key.write_text(world.supplier.identity or "")
        sealed = tmp_path / "bundle.age"
        sealed.write_bytes(raw)
        out = subprocess.run(
            ["age", "-d", "-i", str(key), str(sealed)], capture_output=True, check=True
        ).stdout
        assert b"manifest.json" in out

    # The bureau keeps the declared end user but not the other customer.
    bureau_bundles = client.get("/api/v1/bundles", headers=bur_h).get_json()["bundles"]
    assert len(bureau_bundles) == 1 and bureau_bundles[0]["id"] != bundle_id
    bureau_raw = client.get(f"/api/v1/bundles/{bureau_bundles[0]['id']}/download", headers=bur_h).get_data()
    bureau_files = open_bundle(bureau_raw, world.bureau.identity or "")
    bureau_text = bureau_files["files/orders.txt"].decode() + pdftotext(bureau_files["files/end-use.pdf"])
    assert "Oakridge Acoustics Ltd" in bureau_text
    assert "kestrel" not in bureau_text.casefold()
    with pytest.raises(Exception):  # noqa: B017, PT011  (pyrage's DecryptError has no stable import path)
        open_bundle(bureau_raw, world.supplier.identity or "")

    # Neither the bureau nor an outside organisation can fetch the supplier's bundle.
    assert client.get(f"/api/v1/bundles/{bundle_id}/download", headers=bur_h).status_code == 404
    assert client.get(f"/api/v1/bundles/{bundle_id}/download", headers=out_h).status_code == 404
    assert client.get("/api/v1/bundles", headers=out_h).get_json()["bundles"] == []

    # The applicant reads the access log; others cannot.
    log = client.get(f"/api/v1/cases/{case_id}/access-log", headers=app_h).get_json()
    assert log["chain"]["ok"] is True
    downloads = [e for e in log["events"] if e["action"] == "bundle.download"]
    ok = [e for e in downloads if e["outcome"] == "ok" and e["actor"] == world.supplier.email]
    assert ok and ok[0]["organisation"] == world.supplier.org and ok[0]["client_addr"] == "127.0.0.1"
    assert ok[0]["object"] == {"type": "bundle", "id": bundle_id} and ok[0]["at"]
    denied = {e["actor"] for e in downloads if e["outcome"] == "denied"}
    assert {world.bureau.email, world.outsider.email} <= denied
    assert client.get(f"/api/v1/cases/{case_id}/access-log", headers=sup_h).status_code == 404


def test_bad_input_answers(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    app_h, sup_h = auth(world.applicant.token), auth(world.supplier.token)
    res = client.post("/api/v1/cases", headers=app_h, data="{not json", content_type="application/json")
    assert res.status_code == 400 and "malformed JSON" in res.get_json()["error"]
    res = client.post(
        "/api/v1/cases",
        headers=sup_h,
        json={"title": "x", "supplier_org": world.supplier.org, "bureau_org": world.bureau.org},
    )
    assert res.status_code == 403
    res = client.post(
        "/api/v1/cases",
        headers=app_h,
        json={"title": "t", "supplier_org": "Nobody", "bureau_org": world.bureau.org},
    )
    assert res.status_code == 422 and "supplier_org" in res.get_json()["error"]
    assert client.get("/api/v1/cases/00000000-0000-0000-0000-000000000000", headers=app_h).status_code == 404
    assert client.get("/api/v1/cases", headers={}).status_code == 401
    assert client.get("/api/v1/cases", headers=auth("sx_forged")).status_code == 401

    case_id = client.post(
        "/api/v1/cases",
        headers=app_h,
        json={"title": "t", "supplier_org": world.supplier.org, "bureau_org": world.bureau.org},
    ).get_json()["id"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(world.outsider.token)).status_code == 404

    def upload(data: bytes, name: str) -> Any:
        # A hand-built body: the test client spools large generated bodies to a file it never closes.
        boundary = "sxboundary7MA4YWxkTrZu0gW"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=app_h,
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    res = upload(b"", "empty.txt")
    assert res.status_code == 422 and "empty.txt" in res.get_json()["error"]
    res = upload(b"GIF89a\x01\x00\x01\x00" + b"\x00" * 64, "anim.gif")
    assert res.status_code == 422 and "anim.gif" in res.get_json()["error"]
    res = upload(b"%PDF-1.7\n" + b"\x00" * 64, "order.txt")
    assert (
        res.status_code == 422
        and "the name says plain text but the content is a PDF" in res.get_json()["error"]
    )
    res = upload(b"x" * (stack.settings.max_upload_bytes + 1024), "huge.txt")
    assert res.status_code == 413 and "limit" in res.get_json()["error"]
    listed = client.get(f"/api/v1/cases/{case_id}", headers=app_h).get_json()["files"]
    assert listed == []  # nothing stored for refused uploads
    res = client.put(
        f"/api/v1/cases/{case_id}/policy",
        headers=app_h,
        data=BAD_RECIPIENT_POLICY,
        content_type="application/yaml",
    )
    assert res.status_code == 422 and "carrier" in res.get_json()["error"]
    res = client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h)
    assert res.status_code == 422
    assert "Traceback" not in res.get_data(as_text=True)


def test_openapi_and_health(stack: Stack, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and "/cases/{case_id}/access-log" in doc["paths"]
    assert client.get("/healthz").get_json() == {"status": "ok"}  # liveness: the process answers
    ready = client.get("/readyz")
    checks = ready.get_json()["checks"]
    assert ready.status_code == 200, checks
    assert all(checks[name]["ok"] for name in ("database", "broker", "object_store")), checks


def test_customer_list_import_adds_to_the_policy(stack: Stack, client: FlaskClient) -> None:
    import openpyxl

    world = seed_world(stack.settings)
    app_h = auth(world.applicant.token)
    case_id = new_case(client, world, "import")
    res = client.post(
        f"/api/v1/cases/{case_id}/policy/customers",
        headers=app_h,
        data={"file": (io.BytesIO(b"name\nA\n"), "c.csv")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 422 and "policy first" in res.get_json()["error"]
    assert (
        client.put(
            f"/api/v1/cases/{case_id}/policy", headers=app_h, data=POLICY, content_type="application/yaml"
        ).status_code
        == 200
    )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer", "Country"])
    sheet.append(["Nordlicht Antriebe AG", "DE"])
    sheet.append(["Kestrel Dynamics GmbH", "DE"])  # already declared: not added twice
    buffer = io.BytesIO()
    book.save(buffer)
    res = client.post(
        f"/api/v1/cases/{case_id}/policy/customers",
        headers=app_h,
        data={"file": (io.BytesIO(buffer.getvalue()), "customers.xlsx"), "column": "Customer"},
        content_type="multipart/form-data",
    )
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["added"] == 1 and res.get_json()["version"] == 2
    text = client.get(f"/api/v1/cases/{case_id}/policy", headers=app_h).get_json()["text"]
    assert "Nordlicht Antriebe AG" in text and text.count("Kestrel Dynamics GmbH") == 1
    res = client.post(
        f"/api/v1/cases/{case_id}/policy/customers",
        headers=app_h,
        data={"file": (io.BytesIO(buffer.getvalue()), "customers.xlsx"), "column": "Revenue"},
        content_type="multipart/form-data",
    )
    assert res.status_code == 422 and "Revenue" in res.get_json()["error"]


def all_findings(client: Any, case_id: str, token: str, file_id: str | None = None) -> list[dict[str, Any]]:
    """Every finding of a case (or one file), page by page through the paged endpoint."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {
            "limit": "1000",
            **({"file": file_id} if file_id else {}),
            **({"cursor": cursor} if cursor else {}),
        }
        res = client.get(
            f"/api/v1/cases/{case_id}/findings",
            headers={"Authorization": f"Bearer {token}"},
            query_string=query,
        )
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        out.extend(body["findings"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out
