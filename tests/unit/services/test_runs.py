"""Jobs: label merging, the outbox, idempotent submit, per-file jobs joined by the last one.

Real SQLite, real engines (in their sandbox), in-memory blob store and queue.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from exchange.domain.detection import Labeller
from exchange.domain.errors import Conflict
from exchange.models import Case, CaseFile, FindingRow, OutboxMessage, PendingBlob
from exchange.services import cases, outbox, processing, reconciler, uploads
from exchange.services.context import ServiceContext
from exchange.services.runs import merge_label_state
from exchange.services.workspace import private_workspace, reap_stale_workspaces
from tests.unit.services.test_case_services import RecordingQueue, as_user

LABEL_POLICY = """version: 1
name: labels
terms: {customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd", "Brightwater Optics AG"]}
recipients:
  bureau: {redact: [CUSTOMER], style: label}
  supplier: {redact: [CUSTOMER], style: label}
"""


def _state_with(*values: tuple[str, str]) -> dict[str, Any]:
    labeller = Labeller()
    for kind, text in values:
        labeller.label(kind, text)
    return labeller.state()


def test_merge_adds_new_labels_and_keeps_counters() -> None:
    base = _state_with(("CUSTOMER", "Kestrel"))
    theirs = Labeller(base)
    theirs.label("CUSTOMER", "Oakridge")  # CUSTOMER-2, committed by another file
    mine = Labeller(base)
    mine.label("CUSTOMER", "Kestrel")  # known: no change
    mine.label("PERSON", "Ada")  # new type, new number: no clash
    merged = merge_label_state(theirs.state(), base, mine.state())
    assert merged is not None
    again = Labeller(merged)
    assert again.label("CUSTOMER", "Oakridge") == "[CUSTOMER-2]"
    assert again.label("PERSON", "Ada") == "[PERSON-1]"
    assert again.label("CUSTOMER", "Brightwater") == "[CUSTOMER-3]"


def test_merge_refuses_a_label_number_taken_meanwhile() -> None:
    base = _state_with()
    theirs, mine = Labeller(base), Labeller(base)
    theirs.label("CUSTOMER", "Oakridge")
    mine.label("CUSTOMER", "Kestrel")  # also CUSTOMER-1: two values, one label
    assert merge_label_state(theirs.state(), base, mine.state()) is None


def test_merge_accepts_the_same_value_with_the_same_label() -> None:
    base = _state_with()
    theirs, mine = Labeller(base), Labeller(base)
    theirs.label("CUSTOMER", "Kestrel")
    mine.label("CUSTOMER", "KESTREL")
    assert merge_label_state(theirs.state(), base, mine.state()) is not None


class DownQueue:
    def __init__(self) -> None:
        self.up = False
        self.sent: list[tuple[str, tuple[object, ...]]] = []

    def enqueue(self, task_name: str, *args: object) -> None:
        if not self.up:
            raise ConnectionError("broker down")
        self.sent.append((task_name, args))


def _upload(ctx: ServiceContext, case_id: str, name: str, data: bytes) -> None:
    uploads.receive_bytes(ctx, case_id, name, io.BytesIO(data))


def _case_with_files(ctx: ServiceContext, texts: list[bytes], policy: str = LABEL_POLICY) -> Case:
    as_user(ctx, "a@example.test")
    case = cases.create_case(ctx, "Magnets", "S Co", "B Office")
    cases.set_policy(ctx, case.id, policy)
    for index, text in enumerate(texts):
        _upload(ctx, case.id, f"f{index}.txt", text)
    ctx.commit()
    return case


def test_submit_commits_its_jobs_while_the_broker_is_down(ctx: ServiceContext) -> None:
    case = _case_with_files(ctx, [b"Kestrel Dynamics GmbH"])
    queue = DownQueue()
    ctx.queue = queue
    cases.submit(ctx, case.id)
    ctx.commit()  # the relay after commit fails quietly: no exception reaches the request
    assert case.status == "processing"
    assert ctx.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    queue.up = True
    assert outbox.relay(ctx) == 1
    assert queue.sent == [(cases.PROCESS_FILE_TASK, (case.id, case.files[0].id, 1))]
    assert ctx.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    with pytest.raises(Conflict):
        cases.submit(ctx, case.id)


def test_a_stale_submit_loses_to_the_one_that_committed(ctx: ServiceContext) -> None:
    case = _case_with_files(ctx, [b"Kestrel Dynamics GmbH"])
    # Another request submitted and committed after this one read the case.
    ctx.session.execute(Case.__table__.update().where(Case.id == case.id).values(status="processing", run=1))
    ctx.session.commit()
    case.status, case.run = "draft", 0  # what the slower request saw
    with pytest.raises(Conflict):
        cases.submit(ctx, case.id)


def _labels(text: str) -> set[str]:
    return set(re.findall(r"\[CUSTOMER-\d+\]", text))


def _output_text(ctx: ServiceContext, row: CaseFile, recipient: str) -> str:
    out = next(o for o in row.outputs if o.recipient == recipient)
    sink = io.BytesIO()
    assert out.blob_key is not None
    ctx.blobs.get_to(out.blob_key, sink)
    return sink.getvalue().decode()


def test_parallel_files_keep_labels_consistent(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case_with_files(
        ctx,
        [
            b"Order by Kestrel Dynamics GmbH.\n",
            b"Order by Oakridge Acoustics Ltd and Kestrel Dynamics GmbH.\n",
        ],
    )
    cases.submit(ctx, case.id)
    ctx.commit()
    first, second = case.files
    real = processing._store_blobs
    calls: list[str] = []

    def interleaved(c: ServiceContext, row: CaseFile, *args: Any) -> Any:
        calls.append(row.id)
        if row.id == first.id and len(calls) == 1:
            # While the first file's job holds its results, the second file's job runs and
            # commits: both started from the same (empty) label state.
            other = ServiceContext(session=_session(c), blobs=c.blobs, queue=c.queue, settings=c.settings)
            assert processing.process_file(other, case.id, second.id, 1) == "processed"
            other.session.close()
        return real(c, row, *args)

    monkeypatch.setattr(processing, "_store_blobs", interleaved)
    assert processing.process_file(ctx, case.id, first.id, 1) == "processed"
    assert calls == [first.id, second.id, first.id], "the first file ran again from the merged state"
    ctx.session.expire_all()
    done = ctx.session.get(Case, case.id)
    assert done is not None and done.status == "review"
    text_first = _output_text(ctx, ctx.session.get(CaseFile, first.id), "bureau")  # type: ignore[arg-type]
    text_second = _output_text(ctx, ctx.session.get(CaseFile, second.id), "bureau")  # type: ignore[arg-type]
    # Kestrel has one label in both files, and it is not Oakridge's.
    kestrel_second = text_second.split("and ")[1]
    assert _labels(text_first) == _labels(kestrel_second)
    assert _labels(text_second.split(" and")[0]) != _labels(text_first)
    assert len(_labels(text_second)) == 2
    # Findings are rows; counts are on the file; no blob is left pending.
    assert ctx.session.scalar(select(func.count()).select_from(FindingRow)) >= 3
    assert ctx.session.scalar(select(func.count()).select_from(PendingBlob)) == 0


def _session(c: ServiceContext) -> Any:
    from sqlalchemy.orm import Session

    return Session(c.session.get_bind(), expire_on_commit=False)


def test_a_duplicate_job_is_skipped_and_the_reconciler_requeues_a_dead_one(ctx: ServiceContext) -> None:
    case = _case_with_files(ctx, [b"Kestrel Dynamics GmbH\n"])
    cases.submit(ctx, case.id)
    ctx.commit()
    row = case.files[0]
    # A worker claimed the file and died: its lease is alive, so a duplicate delivery is skipped.
    assert processing._claim(ctx, case.id, row.id, 1, "dead-worker")
    assert processing.process_file(ctx, case.id, row.id, 1) == "skipped"
    # Once the lease ran out the reconciler queues the file again and a live job finishes the case.
    ctx.session.execute(
        CaseFile.__table__.update().where(CaseFile.id == row.id).values(lease_until=ctx.clock.now())
    )
    ctx.session.commit()
    queue = ctx.queue
    assert isinstance(queue, RecordingQueue)
    queue.sent.clear()
    result = reconciler.reconcile(ctx)
    assert result.requeued_files == [row.id]
    assert queue.sent == [(cases.PROCESS_FILE_TASK, (case.id, row.id, 1))]
    assert processing.process_file(ctx, case.id, row.id, 1) == "processed"
    ctx.session.expire_all()
    assert ctx.session.get(Case, case.id).status == "review"  # type: ignore[union-attr]
    # A late duplicate of the finished job changes nothing.
    assert processing.process_file(ctx, case.id, row.id, 1) == "skipped"


def test_findings_are_paged_with_an_opaque_cursor(ctx: ServiceContext) -> None:
    case = _case_with_files(ctx, [b"Kestrel Dynamics GmbH. " * 30])
    cases.submit(ctx, case.id)
    ctx.commit()
    assert processing.process_file(ctx, case.id, case.files[0].id, 1) == "processed"
    as_user(ctx, "a@example.test")
    seen: list[int] = []
    cursor = None
    while True:
        page = cases.list_findings(ctx, case.id, case.files[0].id, cursor, "7")
        assert len(page["findings"]) <= 7
        seen.extend(f["id"] for f in page["findings"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 30
    first = cases.list_findings(ctx, case.id, None, None, None)["findings"][0]
    assert first["decisions"] == {"bureau": "redact", "supplier": "redact"}
    assert set(first) >= {"id", "file_id", "page", "entity_type", "text", "start", "end", "score", "source"}
    view = cases.case_view(ctx, ctx.session.get(Case, case.id))  # type: ignore[arg-type]
    assert view["files"][0]["finding_counts"] == {"CUSTOMER": 30}
    assert "findings" not in view["files"][0]
    as_user(ctx, "x@example.test")  # another applicant organisation
    with pytest.raises(Exception, match="no such case"):
        cases.list_findings(ctx, case.id, None, None, None)


def test_only_dead_owners_workspaces_are_reaped(tmp_path: Path) -> None:
    dead = tmp_path / "exchange-job-999999999-abc"
    dead.mkdir()
    (dead / "source").write_bytes(b"plaintext")
    alive = tmp_path / f"exchange-job-{os.getppid()}-def"
    alive.mkdir()
    assert reap_stale_workspaces(tmp_path) == 1
    assert not dead.exists() and alive.exists()
    with private_workspace() as work:
        assert work.name.startswith(f"exchange-job-{os.getpid()}-")
        assert reap_stale_workspaces(Path(tempfile.gettempdir())) >= 0
        assert work.exists()


def test_case_view_and_bundle_list_never_read_findings(ctx: ServiceContext) -> None:
    from sqlalchemy import event

    from exchange.services import sharing

    case = _case_with_files(ctx, [b"Kestrel Dynamics GmbH. " * 40])
    cases.submit(ctx, case.id)
    ctx.commit()
    assert processing.process_file(ctx, case.id, case.files[0].id, 1) == "processed"
    statements: list[str] = []
    engine = ctx.session.get_bind()

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        ctx.session.expire_all()
        as_user(ctx, "a@example.test")
        view = cases.case_view(ctx, cases.get_case(ctx, case.id))
        sharing.list_bundles(ctx)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert view["files"][0]["findings_total"] == 40
    assert statements
    assert not [s for s in statements if "findings" in s.lower().replace("finding_counts", "")]


class FlakyStore:
    """The ctx's in-memory store, down for the first ``failures`` calls of get_to and put."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def _maybe_fail(self) -> None:
        from exchange.domain.errors import StorageUnavailable

        if self.failures > 0:
            self.failures -= 1
            raise StorageUnavailable("the object store did not answer")

    def get_to(self, key: str, target: Any) -> None:
        self._maybe_fail()
        self.inner.get_to(key, target)

    def put(self, key: str, source: Any) -> int:
        self._maybe_fail()
        return int(self.inner.put(key, source))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize(("failures", "outcome"), [(2, "processed"), (99, "failed")])
def test_a_store_outage_is_retried_then_fails_the_file_with_a_reason(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch, failures: int, outcome: str
) -> None:
    monkeypatch.setattr(processing, "STORE_RETRY_DELAYS", (0.0, 0.0, 0.0))
    case = _case_with_files(ctx, [b"Kestrel Dynamics GmbH ordered magnets.\n"])
    cases.submit(ctx, case.id)
    ctx.commit()
    row = case.files[0]
    ctx.blobs = FlakyStore(ctx.blobs, failures)  # type: ignore[assignment]
    processing.process_file(ctx, case.id, row.id, 1)
    ctx.session.expire_all()
    row = ctx.session.get(CaseFile, row.id)  # type: ignore[assignment]
    assert row.status == outcome
    if outcome == "failed":
        assert row.error and "object store" in row.error
