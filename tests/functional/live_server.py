"""A real web server process for tests: gunicorn (gthread) on a free loopback port.

The same server and worker class as ``exchange up`` and the Docker image,
so streaming, chunked bodies and memory are measured as deployed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def worker_pid(self) -> int:
        """The gunicorn worker (the process that runs the app), not the arbiter."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        assert children, "gunicorn has no worker yet"
        return int(children[0])

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def peak_rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_server(env: dict[str, str], log: Path, threads: int = 8) -> Iterator[LiveServer]:
    port = free_port()
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                f"--bind=127.0.0.1:{port}",
                "--worker-class=gthread",
                "--workers=1",
                f"--threads={threads}",
                "--timeout=120",
                # as in the image: the heartbeat file stays off /tmp, where tests look for leaks
                "--worker-tmp-dir=/dev/shm",
                "--error-logfile=-",
                "exchange:create_app()",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "gunicorn exited:\n" + server.log_text()[-3000:]
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=2):  # noqa: S310  (loopback)
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer:\n" + server.log_text()[-3000:]
                time.sleep(0.2)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
