"""Sealing names each bundle's title and members as its recipient may see them (in-memory ports)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.domain.bundles.sealing import new_identity, open_sealed
from exchange.domain.bundles.signing import generate_signing_key
from exchange.models import Bundle, Case, RedactedFile
from exchange.models.database import Database
from exchange.services import accounts, cases, sharing, uploads
from exchange.services.context import ServiceContext
from exchange.settings import Settings
from tests.unit.services.test_case_services import MemoryBlobStore, RecordingQueue, copy_database

BOX = "\u2588" * 8
POLICY = """version: 1
name: unit
terms: {customers: ["Kestrel Dynamics GmbH"], trade_secrets: ["N52SH-X"]}
recipients:
  bureau: {redact: [TRADE_SECRET]}
  supplier: {redact: [CUSTOMER, TRADE_SECRET]}
"""


@pytest.fixture
def ctx(tmp_path: Path, migrated_database: Path) -> Iterator[ServiceContext]:
    url = copy_database(migrated_database, tmp_path / "unit.sqlite3")
    settings = Settings(
        instance_path=tmp_path,
        database_url=url,
        redis_url="redis://127.0.0.1:1/0",
        secret_key="k" * 32,
        storage_identity=new_identity()[0],
        signing_key=generate_signing_key(),
    )
    database = Database(url)
    session = database.sessions()
    context = ServiceContext(
        session=session, blobs=MemoryBlobStore(), queue=RecordingQueue(), settings=settings
    )
    yield context
    session.close()
    database.dispose()


@pytest.fixture
def identities(ctx: ServiceContext) -> dict[str, str]:
    """Accounts for the three roles; the recipients' age identities by recipient."""
    out = {}
    for email, role, org in (
        ("a@example.test", "applicant", "A GmbH"),
        ("s@example.test", "supplier", "S Co"),
        ("b@example.test", "bureau", "B Office"),
    ):
        accounts.add_user(ctx, email, role, org, "long enough password")
        if role != "applicant":
            identity, recipient = new_identity()
            accounts.set_org_key(ctx, org, recipient)
            out[role] = identity
    ctx.commit()
    user = accounts.authenticate(ctx, "a@example.test", "long enough password")
    assert user is not None
    ctx.actor = accounts.actor_for(user)
    return out


def processed_case(ctx: ServiceContext, names: dict[str, dict[str, str | None]]) -> Case:
    """A case in ``sealing`` whose files have verified outputs, as the processing worker leaves them.

    ``names`` maps an upload's name to each recipient's stored redacted name
    (None: an output from before names were redacted).
    """
    case = cases.create_case(ctx, "Order for Kestrel Dynamics GmbH (N52SH-X)", "S Co", "B Office")
    cases.set_policy(ctx, case.id, POLICY)
    for name, per_recipient in names.items():
        row = uploads.receive_bytes(ctx, case.id, name, io.BytesIO(b"Delivery in March.\n"))
        for recipient, shown in per_recipient.items():
            data = f"redacted for {recipient}\n".encode()
            key = ctx.blobs.new_key("redacted")
            ctx.blobs.put(key, io.BytesIO(data))
            ctx.session.add(
                RedactedFile(
                    file_id=row.id,
                    recipient=recipient,
                    status="ok",
                    blob_key=key,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    name=shown,
                )
            )
    case.status, case.run = "sealing", 1
    ctx.commit()
    ctx.session.expire_all()
    return case


def opened(ctx: ServiceContext, case: Case, recipient: str, identity: str) -> tuple[Bundle, dict, list[str]]:
    bundle = ctx.session.query(Bundle).filter_by(case_id=case.id, recipient=recipient).one()
    sealed = io.BytesIO()
    for chunk in ctx.blobs.raw_chunks(bundle.blob_key):
        sealed.write(chunk)
    sealed.seek(0)
    plain = io.BytesIO()
    open_sealed(sealed, plain, identity)
    plain.seek(0)
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        return bundle, manifest, tar.getnames()


def test_titles_and_member_names_are_each_recipients_own(
    ctx: ServiceContext, identities: dict[str, str]
) -> None:
    case = processed_case(
        ctx,
        {
            # stored names win, and two equal ones are told apart
            "a.txt": {"supplier": f"{BOX} order.txt", "bureau": "Kestrel Dynamics GmbH order.txt"},
            "b.txt": {"supplier": f"{BOX} order.txt", "bureau": f"{BOX} order.txt"},
            # no stored name: the upload's name is redacted while sealing
            "N52SH-X for Kestrel Dynamics GmbH.txt": {"supplier": None, "bureau": None},
        },
    )
    assert sharing.seal_case(ctx, case.id, 1) == "sealed"

    bundle, manifest, members = opened(ctx, case, "supplier", identities["supplier"])
    assert bundle.title == manifest["case"]["title"] == f"Order for {BOX} ({BOX})"
    assert sorted(f["name"] for f in manifest["files"]) == [
        f"{BOX} for {BOX}.txt",
        f"{BOX} order (2).txt",
        f"{BOX} order.txt",
    ]
    assert sorted(m for m in members if m.startswith("files/")) == sorted(
        "files/" + f["name"] for f in manifest["files"]
    )
    assert sharing.bundle_view(bundle)["case_title"] == bundle.title

    bundle, manifest, _ = opened(ctx, case, "bureau", identities["bureau"])
    assert bundle.title == f"Order for Kestrel Dynamics GmbH ({BOX})"
    assert f"{BOX} for Kestrel Dynamics GmbH.txt" in [f["name"] for f in manifest["files"]]


def test_a_stored_name_that_still_holds_a_secret_fails_closed(
    ctx: ServiceContext, identities: dict[str, str]
) -> None:
    case = processed_case(
        ctx,
        {"a.txt": {"supplier": "N52SH-X order.txt", "bureau": f"{BOX} order.txt"}},
    )
    assert sharing.seal_case(ctx, case.id, 1) == "failed"
    ctx.session.refresh(case)
    assert case.error is not None and "supplier" in case.error
    assert ctx.session.query(Bundle).filter_by(case_id=case.id, recipient="supplier").count() == 0


def test_a_bundle_without_a_stored_title_never_shows_the_case_title(
    ctx: ServiceContext, identities: dict[str, str]
) -> None:
    case = processed_case(ctx, {"a.txt": {"supplier": "a.txt", "bureau": "a.txt"}})
    assert sharing.seal_case(ctx, case.id, 1) == "sealed"
    bundle = ctx.session.query(Bundle).filter_by(case_id=case.id, recipient="supplier").one()
    bundle.title = None  # as for bundles sealed before titles were redacted
    assert "Kestrel" not in sharing.bundle_view(bundle)["case_title"]
