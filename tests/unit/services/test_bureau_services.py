"""The bureau's requests, supplements and bundle versions (in-memory ports, real SQLite)."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from sqlalchemy import select

from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.models import AuditEvent, Bundle, Case, InformationRequest, RedactedFile
from exchange.services import accounts, bureau, sharing, uploads
from exchange.services.context import ServiceContext
from tests.unit.services.test_sealing_names import ctx, identities, opened, processed_case  # noqa: F401

PASSWORD = "long enough password"
SECRET_QUESTION = "Who is the end user behind order 4711?"


def act_as(ctx: ServiceContext, email: str) -> None:  # noqa: F811
    user = accounts.authenticate(ctx, email, PASSWORD)
    assert user is not None
    ctx.actor = accounts.actor_for(user)


def add_output_file(ctx: ServiceContext, case: Case, name: str) -> None:  # noqa: F811
    row = uploads.receive_bytes(ctx, case.id, name, io.BytesIO(b"Certificate for the end use.\n"))
    for recipient in ("supplier", "bureau"):
        data = f"{name} for {recipient}\n".encode()
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
                name=name,
            )
        )


def sealed_v1(ctx: ServiceContext) -> Case:  # noqa: F811
    case = processed_case(ctx, {"orders.txt": {"supplier": "orders.txt", "bureau": "orders.txt"}})
    assert sharing.seal_case(ctx, case.id, 1) == "sealed"
    ctx.session.refresh(case)
    return case


def test_a_supplement_seals_a_linked_second_version_with_every_file(
    ctx: ServiceContext,  # noqa: F811
    identities: dict[str, str],  # noqa: F811
) -> None:
    case = sealed_v1(ctx)
    assert case.bureau_status == "under_review" and case.version == 1
    act_as(ctx, "a@example.test")
    with pytest.raises(Conflict):
        bureau.start_supplement(ctx, case.id)  # nothing was asked
    act_as(ctx, "b@example.test")
    request = bureau.request_information(ctx, case.id, SECRET_QUESTION)
    ctx.commit()
    act_as(ctx, "a@example.test")
    assert bureau.start_supplement(ctx, case.id).version == 2
    ctx.commit()
    with pytest.raises(Conflict):
        bureau.start_supplement(ctx, case.id)  # the case is a draft now
    add_output_file(ctx, case, "certificate.txt")
    case.status, case.run = "sealing", 2
    ctx.commit()
    assert sharing.seal_case(ctx, case.id, 2) == "sealed"
    assert sharing.seal_case(ctx, case.id, 2) == "skipped"  # a retried job shares nothing more

    bundles = ctx.session.scalars(select(Bundle).where(Bundle.case_id == case.id)).all()
    by_key = {(b.recipient, b.version): b for b in bundles}
    assert sorted(by_key) == [("bureau", 1), ("bureau", 2), ("supplier", 1), ("supplier", 2)]
    for recipient in ("supplier", "bureau"):
        assert by_key[(recipient, 1)].previous_id is None
        assert by_key[(recipient, 2)].previous_id == by_key[(recipient, 1)].id
        assert by_key[(recipient, 2)].file_count == 2
    ctx.session.refresh(case)
    assert case.status == "sealed" and case.bureau_status == "under_review"
    ctx.session.refresh(request)
    assert request.answered_version == 2 and request.answered_at is not None

    act_as(ctx, "b@example.test")
    [card] = bureau.inbox(ctx)
    assert [v["version"] for v in card["versions"]] == [1, 2]
    assert sorted((f["name"], f["version"]) for f in card["versions"][1]["files"]) == [
        ("certificate.txt", 2),
        ("orders.txt", 1),
    ]


def test_who_may_ask_see_and_set(ctx: ServiceContext, identities: dict[str, str]) -> None:  # noqa: F811
    case = sealed_v1(ctx)
    accounts.add_user(ctx, "b2@example.test", "bureau", "Other Bureau", PASSWORD)
    ctx.commit()
    act_as(ctx, "s@example.test")
    with pytest.raises(Forbidden):
        bureau.request_information(ctx, case.id, "hello")
    with pytest.raises(Forbidden):
        bureau.set_status(ctx, case.id, "approved")
    with pytest.raises(Forbidden):
        bureau.list_requests(ctx, case.id)
    with pytest.raises(Forbidden):
        bureau.start_supplement(ctx, case.id)
    act_as(ctx, "b2@example.test")
    for call in (
        lambda: bureau.request_information(ctx, case.id, "hello"),
        lambda: bureau.set_status(ctx, case.id, "approved"),
        lambda: bureau.versions(ctx, case.id),
        lambda: bureau.list_requests(ctx, case.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert bureau.inbox(ctx) == []
    act_as(ctx, "a@example.test")
    with pytest.raises(Forbidden):
        bureau.inbox(ctx)
    with pytest.raises(Forbidden):
        bureau.request_information(ctx, case.id, "hello")

    act_as(ctx, "b@example.test")
    for bad in ("", "  ", None, 7, "x" * 4001):
        with pytest.raises(InvalidInput):
            bureau.request_information(ctx, case.id, bad)
    for bad in ("", "done", None, "UNDER_REVIEW"):
        with pytest.raises(InvalidInput):
            bureau.set_status(ctx, case.id, bad)
    assert bureau.request_information(ctx, case.id, "x" * 4000).message == "x" * 4000
    assert bureau.set_status(ctx, case.id, "rejected").bureau_status == "rejected"
    ctx.commit()

    # The supplier sees the status and that something was asked; the message stays out of its view.
    act_as(ctx, "s@example.test")
    [card] = bureau.inbox(ctx)
    assert card["bureau_status"] == "rejected" and card["information_requests"]["open"] == 1
    assert "requests" not in card and "xxxx" not in json.dumps(card)


def test_the_access_log_names_the_request_never_its_message(
    ctx: ServiceContext,  # noqa: F811
    identities: dict[str, str],  # noqa: F811
) -> None:
    case = sealed_v1(ctx)
    act_as(ctx, "b@example.test")
    row = bureau.request_information(ctx, case.id, SECRET_QUESTION)
    bureau.set_status(ctx, case.id, "under_review")
    ctx.commit()
    events = ctx.session.scalars(select(AuditEvent).where(AuditEvent.chain == case.id)).all()
    assert "4711" not in json.dumps([e.detail for e in events])
    asked = [e for e in events if e.action == "case.information_requested"]
    assert [e.detail["request_id"] for e in asked] == [row.id]  # type: ignore[index]
    stored = ctx.session.get(InformationRequest, row.id)
    assert stored is not None and stored.message == SECRET_QUESTION and stored.version == 1
