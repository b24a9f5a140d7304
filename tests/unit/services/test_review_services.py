"""Review services on a real SQLite file with real engines (sandboxed) and in-memory ports.

What is checked: a review decision reaches the next run and only the files it
touches run again; the key that decides it; the findings list shows pending
decisions; declaring a suggestion edits the policy document safely; refusals.
"""

from __future__ import annotations

import io
import json

import pytest
import yaml
from sqlalchemy import func, select

from exchange.domain.errors import Conflict, InvalidInput, NotFound
from exchange.models import AuditEvent, Case, CaseFile, RedactedFile
from exchange.services import cases, processing, review, uploads
from exchange.services.context import ServiceContext
from tests.unit.services.test_case_services import MemoryBlobStore, RecordingQueue, as_user

POLICY = """version: 1
name: review unit
# a comment the data round trip may drop
terms:
  customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""
ORDERS = b"Ship to Kestrel Dynamics GmbH, Stuttgart. End user Oakridge Acoustics Ltd (drivers).\n"
NOTES = b"Furnace line 7 runs at 900 C for Kestrel Dynamics GmbH today.\n"


def _case(ctx: ServiceContext, policy: str = POLICY) -> Case:
    as_user(ctx, "a@example.test")
    case = cases.create_case(ctx, "Magnets", "S Co", "B Office")
    cases.set_policy(ctx, case.id, policy)
    uploads.receive_bytes(ctx, case.id, "orders.txt", io.BytesIO(ORDERS))
    uploads.receive_bytes(ctx, case.id, "notes.txt", io.BytesIO(NOTES))
    ctx.commit()
    return case


def _run(ctx: ServiceContext, case: Case) -> list[str]:
    """Submit and run the queued jobs in process, as a worker would; the file ids that ran."""
    queue = ctx.queue
    assert isinstance(queue, RecordingQueue)
    queue.sent.clear()
    cases.submit(ctx, case.id)
    ctx.commit()
    ran = []
    for task, args in list(queue.sent):
        assert task == cases.PROCESS_FILE_TASK
        case_id, file_id, run = args
        assert processing.process_file(ctx, str(case_id), str(file_id), int(str(run))) == "processed"
        ran.append(str(file_id))
    ctx.session.expire_all()
    return ran


def _output(ctx: ServiceContext, file_id: str, recipient: str) -> RedactedFile:
    row = ctx.session.scalar(
        select(RedactedFile).where(RedactedFile.file_id == file_id, RedactedFile.recipient == recipient)
    )
    assert row is not None and row.blob_key
    return row


def _text(ctx: ServiceContext, file_id: str, recipient: str) -> str:
    blobs = ctx.blobs
    assert isinstance(blobs, MemoryBlobStore)
    return blobs.blobs[_output(ctx, file_id, recipient).blob_key or ""].decode()


def _findings(ctx: ServiceContext, case: Case, file_id: str) -> list[dict]:  # type: ignore[type-arg]
    return list(cases.list_findings(ctx, case.id, file_id, None, None)["findings"])


def test_a_kept_finding_reaches_only_its_recipient_and_only_its_file_runs_again(ctx: ServiceContext) -> None:
    case = _case(ctx)
    orders, notes = (f.id for f in sorted(case.files, key=lambda f: f.name != "orders.txt"))
    assert sorted(_run(ctx, case)) == sorted([orders, notes])
    assert ctx.session.get(Case, case.id).status == "review"  # type: ignore[union-attr]
    before = {(o.recipient, o.blob_key, o.sha256) for o in ctx.session.get(CaseFile, notes).outputs}  # type: ignore[union-attr]
    notes_run = ctx.session.get(CaseFile, notes).run  # type: ignore[union-attr]

    oak = next(f for f in _findings(ctx, case, orders) if f["text"] == "Oakridge Acoustics Ltd")
    assert oak["pending"] is False and oak["reviewed"] == {}
    view = review.decide_finding(ctx, case.id, oak["id"], recipient="supplier", decision="keep")
    ctx.commit()
    assert view["decisions"] == {"bureau": "redact", "supplier": "keep"}
    assert view["reviewed"] == {"supplier": "keep"} and view["pending"] is True
    assert ctx.session.get(Case, case.id).status == "draft"  # type: ignore[union-attr]  # approval must wait
    # The other file's findings are not pending: nothing about it changed.
    assert all(not f["pending"] for f in _findings(ctx, case, notes))

    assert _run(ctx, case) == [orders]
    assert "Oakridge Acoustics Ltd" in _text(ctx, orders, "supplier")
    assert "Oakridge" not in _text(ctx, orders, "bureau")
    assert "Kestrel" not in _text(ctx, orders, "supplier")
    after = {(o.recipient, o.blob_key, o.sha256) for o in ctx.session.get(CaseFile, notes).outputs}  # type: ignore[union-attr]
    assert after == before and ctx.session.get(CaseFile, notes).run == notes_run  # type: ignore[union-attr]
    assert ctx.session.get(Case, case.id).status == "review"  # type: ignore[union-attr]
    again = next(f for f in _findings(ctx, case, orders) if f["text"] == "Oakridge Acoustics Ltd")
    assert again["pending"] is False and again["decisions"]["supplier"] == "keep"
    # The access log names the decision, never the value.
    events = ctx.session.scalars(select(AuditEvent).where(AuditEvent.action == "review.decided")).all()
    assert events and all("Oakridge" not in json.dumps(e.detail) for e in events)


def test_a_submit_with_nothing_changed_goes_straight_to_review(ctx: ServiceContext) -> None:
    case = _case(ctx)
    _run(ctx, case)
    # A policy saved again unchanged keeps its version, so the keys stay.
    cases.set_policy(ctx, case.id, POLICY)
    ctx.commit()
    assert _run(ctx, case) == []
    stored = ctx.session.get(Case, case.id)
    assert stored is not None and stored.status == "review" and stored.progress == 100 and stored.run == 2
    # A selection changes one file's key; a policy change changes both.
    notes = next(f for f in case.files if f.name == "notes.txt")
    review.select_text(ctx, case.id, notes.id, text="Furnace line 7", recipients=["supplier", "bureau"])
    ctx.commit()
    assert _run(ctx, case) == [notes.id]
    assert "Furnace line 7" not in _text(ctx, notes.id, "bureau")
    assert "900 C" in _text(ctx, notes.id, "bureau")
    cases.set_policy(ctx, case.id, POLICY.replace("review unit", "review unit 2"))
    ctx.commit()
    assert len(_run(ctx, case)) == 2


def test_undo_and_term_scope(ctx: ServiceContext) -> None:
    case = _case(ctx)
    _run(ctx, case)
    orders = next(f for f in case.files if f.name == "orders.txt")
    kestrel = next(f for f in _findings(ctx, case, orders.id) if f["text"] == "Kestrel Dynamics GmbH")
    review.decide_finding(ctx, case.id, kestrel["id"], recipient="*", decision="keep", scope="term")
    ctx.commit()
    listed = review.list_decisions(ctx, case.id)
    # both files, both recipients
    assert len(listed) == 4 and {d["file_id"] for d in listed} == {f.id for f in case.files}
    assert {d["value"] for d in listed} == {"Kestrel Dynamics GmbH"}
    for decision in listed:
        review.undo_decision(ctx, case.id, decision["id"])
    ctx.commit()
    assert review.list_decisions(ctx, case.id) == []
    # Undone: every key matches its outputs again, so nothing runs.
    assert _run(ctx, case) == []


def test_declaring_a_suggestion_keeps_the_rest_of_the_policy(ctx: ServiceContext) -> None:
    case = _case(ctx)
    _run(ctx, case)
    finding = _findings(ctx, case, case.files[0].id)[0]
    before = cases.current_policy(ctx, case)
    assert before is not None
    version = review.declare_finding(ctx, case.id, finding["id"], "trade_secret")
    ctx.commit()
    assert version.version == before.version + 1
    document = yaml.safe_load(version.source_text)
    assert document["terms"]["trade_secrets"] == [finding["text"]]
    assert document["terms"]["customers"] == ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
    assert document["recipients"] == yaml.safe_load(POLICY)["recipients"]
    # Declaring it again changes nothing.
    assert review.declare_finding(ctx, case.id, finding["id"], "trade_secret").version == version.version
    with pytest.raises(InvalidInput, match="as must be"):
        review.declare_finding(ctx, case.id, finding["id"], "supplier")


def test_a_json_policy_stays_json(ctx: ServiceContext) -> None:
    text = json.dumps(yaml.safe_load(POLICY))
    case = _case(ctx, text)
    _run(ctx, case)
    finding = _findings(ctx, case, case.files[0].id)[0]
    version = review.declare_finding(ctx, case.id, finding["id"], "customer")
    assert json.loads(version.source_text)["name"] == "review unit"


def test_refusals(ctx: ServiceContext) -> None:
    case = _case(ctx)
    _run(ctx, case)
    orders = next(f for f in case.files if f.name == "orders.txt")
    finding = _findings(ctx, case, orders.id)[0]
    with pytest.raises(InvalidInput, match="recipient must be"):
        review.decide_finding(ctx, case.id, finding["id"], recipient="carrier", decision="keep")
    with pytest.raises(InvalidInput, match="decision must be"):
        review.decide_finding(ctx, case.id, finding["id"], recipient="supplier", decision="maybe")
    with pytest.raises(NotFound):
        review.decide_finding(ctx, case.id, 10**12, recipient="supplier", decision="keep")
    with pytest.raises(InvalidInput, match="manual boxes apply to PDF pages and images"):
        review.add_box(ctx, case.id, orders.id, page=1, box=[0.1, 0.1, 0.2, 0.2], recipients=["bureau"])
    with pytest.raises(InvalidInput, match="the text to redact is empty"):
        review.select_text(ctx, case.id, orders.id, text="  ", recipients=["bureau"])
    with pytest.raises(InvalidInput, match="recipients must be"):
        review.select_text(ctx, case.id, orders.id, text="Ship", recipients=[])
    # Another applicant organisation cannot see the case's review at all.
    as_user(ctx, "x@example.test")
    with pytest.raises(NotFound):
        review.list_decisions(ctx, case.id)
    with pytest.raises(NotFound):
        review.decide_finding(ctx, case.id, finding["id"], recipient="supplier", decision="keep")
    # A case being processed refuses review changes.
    as_user(ctx, "a@example.test")
    review.select_text(ctx, case.id, orders.id, text="Ship", recipients=["bureau"])
    cases.submit(ctx, case.id)
    ctx.commit()
    with pytest.raises(Conflict, match="being processed"):
        review.select_text(ctx, case.id, orders.id, text="End user", recipients=["bureau"])


def test_the_key_covers_content_policy_review_and_engine_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    base = review.processed_key("a" * 64, "b" * 64, "")
    assert base == review.processed_key("a" * 64, "b" * 64, "")
    others = {
        review.processed_key("c" * 64, "b" * 64, ""),
        review.processed_key("a" * 64, "c" * 64, ""),
        review.processed_key("a" * 64, "b" * 64, "d" * 64),
    }
    assert base not in others and len(others) == 3
    monkeypatch.setattr(review, "ENGINE_REVISION", "next")
    assert review.processed_key("a" * 64, "b" * 64, "") != base
    assert review.value_key("KESTREL  Dynamics gmbh") == review.value_key("Kestrel Dynamics GmbH")


def test_counts_of_review_rows(ctx: ServiceContext) -> None:
    """Deciding the same thing twice stores one row and leaves the case as it is."""
    case = _case(ctx)
    _run(ctx, case)
    orders = next(f for f in case.files if f.name == "orders.txt")
    finding = _findings(ctx, case, orders.id)[0]
    review.decide_finding(ctx, case.id, finding["id"], recipient="bureau", decision="keep")
    ctx.commit()
    _run(ctx, case)
    # Findings are replaced by every run; the same value found again is the same decision.
    again = next(f for f in _findings(ctx, case, orders.id) if f["text"] == finding["text"])
    assert again["id"] != finding["id"]
    review.decide_finding(ctx, case.id, again["id"], recipient="bureau", decision="keep")
    ctx.commit()
    assert ctx.session.get(Case, case.id).status == "review"  # type: ignore[union-attr]
    from exchange.models import ReviewDecision

    assert ctx.session.scalar(select(func.count()).select_from(ReviewDecision)) == 1


def test_a_deleted_file_takes_its_review_with_it(ctx: ServiceContext) -> None:
    case = _case(ctx)
    _run(ctx, case)
    orders = next(f for f in case.files if f.name == "orders.txt")
    review.select_text(ctx, case.id, orders.id, text="Stuttgart", recipients="*")
    ctx.commit()
    assert len(review.list_decisions(ctx, case.id, orders.id)) == 2
    cases.delete_file(ctx, case.id, orders.id)
    ctx.commit()
    assert review.list_decisions(ctx, case.id) == []
    with pytest.raises(NotFound, match="no such file"):
        review.list_boxes(ctx, case.id, orders.id)
    # The remaining file is unchanged: the next run redoes nothing.
    assert _run(ctx, case) == []
