"""A worker SIGKILLed mid-case: once a worker runs again the case finishes within the lease.

Also: the dead worker's plaintext workspace is removed by the next worker
(it names a dead pid), and no blob or access-log event is left inconsistent.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from tests.faults.harness import LEASE, fault_stack, text_file

pytestmark = pytest.mark.integration


def _workspaces(pid_prefix: str) -> list[Path]:
    return [p for p in Path(tempfile.gettempdir()).glob(f"exchange-job-{pid_prefix}*") if p.is_dir()]


def test_sigkill_mid_case_then_the_case_finishes(tmp_path: Path) -> None:
    with fault_stack(tmp_path) as stack:
        stack.start_worker()
        # Long enough (seconds each) that the kill lands inside a file; the second one waits
        # behind it, so both a killed job and a queued one must come back.
        files = {f"order-{i}.txt": text_file(i, 160) for i in range(2)}
        case_id = stack.new_case_with_files(files)
        client = stack.app.test_client()  # type: ignore[union-attr]
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers).status_code == 202
        # Kill the whole worker (main process, pool child and sandbox) while a file is running.
        stack.wait_until(lambda: "running" in stack.file_statuses(case_id), 60, "a running file")
        before = {p.name for p in Path(tempfile.gettempdir()).glob("exchange-job-*")}
        stack.kill_worker()
        left = {p.name for p in Path(tempfile.gettempdir()).glob("exchange-job-*")} & before
        assert stack.status(case_id)["status"] == "processing"

        started = time.monotonic()
        stack.start_worker()
        body = stack.wait_for(case_id, {"review", "failed"}, timeout=LEASE * 6 + 60)
        assert body["status"] == "review", body.get("error")
        assert all(f["status"] == "processed" for f in body["files"])
        # Recovery waited for the dead job's lease, not for the broker's visibility timeout.
        assert time.monotonic() - started < LEASE * 6 + 60
        # The killed job's plaintext workspace (it named a now-dead pid) is gone.
        still = {p.name for p in Path(tempfile.gettempdir()).glob("exchange-job-*")}
        assert not (left & still), f"workspaces of the dead worker remain: {left & still}"

        assert client.post(f"/api/v1/cases/{case_id}/approve", headers=stack.headers).status_code == 202
        assert stack.wait_for(case_id, {"sealed", "failed"}, timeout=120)["status"] == "sealed"
        stack.assert_consistent(case_id)


def test_a_killed_sealing_job_is_taken_over(tmp_path: Path) -> None:
    with fault_stack(tmp_path) as stack:
        stack.start_worker()
        case_id = stack.new_case_with_files({"a.txt": text_file(1, 4), "b.txt": text_file(2, 4)})
        client = stack.app.test_client()  # type: ignore[union-attr]
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers).status_code == 202
        assert stack.wait_for(case_id, {"review", "failed"}, timeout=120)["status"] == "review"
        assert client.post(f"/api/v1/cases/{case_id}/approve", headers=stack.headers).status_code == 202
        stack.kill_worker()  # right after the approve: the sealing job dies or never starts
        stack.start_worker()
        assert stack.wait_for(case_id, {"sealed", "failed"}, timeout=LEASE * 6 + 90)["status"] == "sealed"
        bundles = stack.status(case_id)["bundles"]
        assert sorted(b["recipient"] for b in bundles) == ["bureau", "supplier"]
        stack.assert_consistent(case_id)
