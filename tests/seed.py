"""Seeding real accounts through the services (no fakes), unique per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from exchange.adapters.blobstores import blob_store
from exchange.domain.bundles.sealing import new_identity
from exchange.models.database import Database
from exchange.services import accounts
from exchange.services.context import ServiceContext
from exchange.settings import Settings

PASSWORD = "correct horse battery staple"


class _NoQueue:
    def enqueue(self, task_name: str, *args: object) -> None:
        raise AssertionError("seeding queues nothing")


@dataclass
class Account:
    email: str
    org: str
    role: str
    token: str
    identity: str | None = None


@dataclass
class World:
    applicant: Account
    supplier: Account
    bureau: Account
    outsider: Account  # a supplier organisation that is not part of the case


def seed_world(settings: Settings) -> World:
    tag = uuid.uuid4().hex[:8]
    database = Database(settings.database_url)
    session = database.sessions()
    ctx = ServiceContext(
        session=session,
        blobs=blob_store(settings),
        queue=_NoQueue(),
        settings=settings,
    )
    made: dict[str, Account] = {}
    for key, role, org in (
        ("applicant", "applicant", f"Applicant {tag} GmbH"),
        ("supplier", "supplier", f"Supplier {tag} Co."),
        ("bureau", "bureau", f"Bureau {tag}"),
        ("outsider", "supplier", f"Other Supplier {tag} Ltd"),
    ):
        email = f"{key}-{tag}@example.test"
        accounts.add_user(ctx, email, role, org, PASSWORD)
        identity = None
        if role != "applicant":
            identity, recipient = new_identity()
            accounts.set_org_key(ctx, org, recipient)
        token = accounts.create_token(ctx, email)
        made[key] = Account(email, org, role, token, identity)
    ctx.commit()
    session.close()
    database.dispose()
    return World(**made)


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def new_case(client: Any, world: World, title: str, policy: str | None = None) -> str:
    """Create a case as the world's applicant through the API; optionally set its policy."""
    res = client.post(
        "/api/v1/cases",
        headers=bearer(world.applicant),
        json={"title": title, "supplier_org": world.supplier.org, "bureau_org": world.bureau.org},
    )
    assert res.status_code == 201, res.get_json()
    case_id: str = res.get_json()["id"]
    if policy is not None:
        res = client.put(
            f"/api/v1/cases/{case_id}/policy",
            headers=bearer(world.applicant),
            data=policy,
            content_type="application/yaml",
        )
        assert res.status_code == 200, res.get_json()
    return case_id
