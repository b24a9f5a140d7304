"""PostgreSQL restarted mid-case: web and worker reconnect by themselves and the case completes.

A private cluster (initdb/pg_ctl as the ``postgres`` user, its own port
under a temp dir); skipped, with the reason, where that cannot be made.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import LEASE, fault_stack, free_port, text_file

pytestmark = pytest.mark.integration


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.data = root / "pgdata"

    def _as_postgres(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *argv], capture_output=True, timeout=60, check=False)

    def init(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: initdb refuses root")
        self.pg_ctl = pg_ctl
        self.root.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o755)  # noqa: S103  (the cluster's socket dir, a test's own temp dir)
            for parent in self.root.parents:
                if parent == Path("/"):
                    break
                # Traversable (not listable) for the postgres user; only the test's temp path.
                os.chmod(parent, os.stat(parent).st_mode | 0o011)  # noqa: S103
        done = self._as_postgres(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres")
        if done.returncode != 0:
            pytest.skip(f"initdb failed: {done.stderr.decode(errors='replace')[-300:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        done = self._as_postgres(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"), "-w", "start"
        )
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        self._as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path / "pg")
    made.init()
    made.start()
    try:
        yield made
    finally:
        made.stop()


def test_postgres_restart_mid_case(tmp_path: Path, cluster: Cluster) -> None:
    from exchange.settings import normalise_database_url

    with fault_stack(tmp_path / "stack", database_url=normalise_database_url(cluster.url)) as stack:
        stack.start_worker()
        case_id = stack.new_case_with_files({f"f{i}.txt": text_file(i, 96) for i in range(4)})
        client = stack.app.test_client()  # type: ignore[union-attr]
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=stack.headers).status_code == 202
        stack.wait_until(lambda: "running" in stack.file_statuses(case_id), 60, "a running file")
        cluster.stop()
        time.sleep(2)
        cluster.start()
        # The web's pool pings before use: the first request after the restart already works.
        assert client.get(f"/api/v1/cases/{case_id}", headers=stack.headers).status_code == 200
        body = stack.wait_for(case_id, {"review", "failed"}, timeout=LEASE * 10 + 120)
        assert body["status"] == "review", body.get("error")
        assert client.post(f"/api/v1/cases/{case_id}/approve", headers=stack.headers).status_code == 202
        assert stack.wait_for(case_id, {"sealed", "failed"}, timeout=120)["status"] == "sealed"
        stack.assert_consistent(case_id)
