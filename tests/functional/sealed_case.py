"""A case taken all the way to sealed bundles through the real worker, and extra principals.

Shared by the authorization matrix and the concurrency tests: both need a
case with a file, findings and one bundle per recipient.
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass
from typing import Any

from exchange.adapters.blobstores import blob_store
from exchange.models.database import Database
from exchange.services import accounts
from exchange.services.context import ServiceContext
from exchange.settings import Settings
from tests.seed import PASSWORD, Account, World, bearer, new_case

POLICY = """version: 1
name: authorization matrix
terms:
  customers: ["Kestrel Dynamics GmbH"]
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""
ORDERS = b"Ship 2,000 N48 segments to Kestrel Dynamics GmbH, Stuttgart.\n"


@dataclass
class SealedCase:
    world: World
    case_id: str
    file_id: str
    supplier_bundle: str
    bureau_bundle: str


class _NoQueue:
    def enqueue(self, task_name: str, *args: object) -> None:
        raise AssertionError("seeding queues nothing")


def extra_account(settings: Settings, role: str) -> Account:
    """One more user in an organisation of its own (another applicant, an admin)."""
    tag = uuid.uuid4().hex[:8]
    database = Database(settings.database_url)
    session = database.sessions()
    ctx = ServiceContext(
        session=session,
        blobs=blob_store(settings),
        queue=_NoQueue(),
        settings=settings,
    )
    email, org = f"{role}-{tag}@example.test", f"{role.title()} {tag} Org"
    accounts.add_user(ctx, email, role, org, PASSWORD)
    token = accounts.create_token(ctx, email)
    ctx.commit()
    session.close()
    database.dispose()
    return Account(email, org, role, token)


def _wait(client: Any, case_id: str, world: World, want: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.applicant)).get_json()
        if body["status"] == want:
            return body
        assert body["status"] != "failed", body
        time.sleep(0.3)
    raise AssertionError(f"case stayed {body.get('status')} (wanted {want})")


def seal_case(client: Any, world: World) -> SealedCase:
    """Upload, process, approve and seal one case through the API and the real worker."""
    case_id = new_case(client, world, "Matrix case", POLICY)
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=bearer(world.applicant),
        data={"file": (io.BytesIO(ORDERS), "orders.txt")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 201, res.get_json()
    file_id = res.get_json()["id"]
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    _wait(client, case_id, world, "review")
    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=bearer(world.applicant)).status_code == 202
    _wait(client, case_id, world, "sealed")
    supplier = client.get("/api/v1/bundles", headers=bearer(world.supplier)).get_json()["bundles"]
    bureau = client.get("/api/v1/bundles", headers=bearer(world.bureau)).get_json()["bundles"]
    return SealedCase(world, case_id, file_id, supplier[0]["id"], bureau[0]["id"])
