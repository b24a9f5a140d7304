"""Redis down or restarted without persistence: no 5xx, no job lost, the case completes.

The outbox holds every job until the broker took it; the reconciler relays
what could not be sent and re-queues file jobs whose messages vanished with
a restarted Redis.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.harness import LEASE, fault_stack, text_file

pytestmark = pytest.mark.integration


def test_submit_and_approve_while_redis_is_down(tmp_path: Path) -> None:
    with fault_stack(tmp_path) as stack:
        stack.start_worker()
        case_id = stack.new_case_with_files({f"f{i}.txt": text_file(i, 8) for i in range(3)})
        client = stack.app.test_client()  # type: ignore[union-attr]
        stack.redis.stop()
        started = time.monotonic()
        res = client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers)
        assert res.status_code == 202, res.get_json()
        assert time.monotonic() - started < 10, "submit waited on the broker"
        # A second submit is refused cleanly, not with a 500.
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers).status_code == 409
        assert stack.status(case_id)["status"] == "processing"
        stack.redis.start()  # empty: the job exists only in the outbox
        assert stack.wait_for(case_id, {"review", "failed"}, timeout=LEASE * 6 + 90)["status"] == "review"

        stack.redis.stop()
        res = client.post(f"/api/v1/cases/{case_id}/approve", headers=stack.headers)
        assert res.status_code == 202, res.get_json()
        stack.redis.start()
        assert stack.wait_for(case_id, {"sealed", "failed"}, timeout=LEASE * 6 + 90)["status"] == "sealed"
        stack.assert_consistent(case_id)


def test_redis_restarted_without_persistence_during_processing(tmp_path: Path) -> None:
    with fault_stack(tmp_path) as stack:
        stack.start_worker()
        # More files than the single worker takes at once, so some jobs wait in Redis;
        # each takes a second or two, long enough to be caught running.
        case_id = stack.new_case_with_files({f"f{i}.txt": text_file(i, 48) for i in range(5)})
        client = stack.app.test_client()  # type: ignore[union-attr]
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers).status_code == 202
        stack.wait_until(lambda: "running" in stack.file_statuses(case_id), 60, "a running file")
        stack.redis.stop()
        time.sleep(1)
        stack.redis.start()  # every queued message is gone
        for _ in range(5):
            res = client.get(f"/api/v1/cases/{case_id}", headers=stack.headers)
            assert res.status_code < 500
        body = stack.wait_for(case_id, {"review", "failed"}, timeout=LEASE * 10 + 120)
        assert body["status"] == "review", body.get("error")
        assert client.post(f"/api/v1/cases/{case_id}/approve", headers=stack.headers).status_code == 202
        assert stack.wait_for(case_id, {"sealed", "failed"}, timeout=120)["status"] == "sealed"
        stack.assert_consistent(case_id)
