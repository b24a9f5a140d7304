"""`exchange up`: the web server (gunicorn) and a Celery worker, together.

The web server is gunicorn with threaded workers: it hands ``wsgi.input``
to the app as a stream (chunked bodies included), so an upload goes from
the socket to the encryptor without a plaintext copy on disk. Waitress
buffers every request body above 512 KiB in an unlinked temporary file
before the app sees it, which is exactly the copy we must not make. One
process with threads by default: the upload semaphore and the metrics are
per process.

When no Redis answers at REDIS_URL and the URL points at this machine, a
private redis-server is started for the instance (no persistence, loopback
only). The worker is supervised: restarted when it dies, within a restart
budget (see :class:`SupervisedWorker`). Children are stopped when the command ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import click

from exchange.cli.base import cli, fail
from exchange.cli.runtime import load_settings

if TYPE_CHECKING:
    from exchange.settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def start_private_redis(url: str, workdir: str) -> subprocess.Popen[bytes]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if host not in LOOPBACK:
        fail(f"no Redis answers at {host}:{port}; start it, or set REDIS_URL to a running Redis")
    server = shutil.which("redis-server")
    if server is None:
        fail(
            f"no Redis answers at {host}:{port} and redis-server is not installed; "
            "install it (apt-get install redis-server) or set REDIS_URL"
        )
    proc = subprocess.Popen(  # noqa: S603  (fixed argv, no shell)
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if redis_answers(url):
            break
        time.sleep(0.1)
    else:
        proc.terminate()
        fail(f"started redis-server on port {port} but it does not answer")
    return proc


def web_server(settings: Settings, host: str, port: int, threads: int) -> Any:
    """A gunicorn server for the app; the app is built in the worker process, not before the fork."""
    from gunicorn.app.base import BaseApplication

    from exchange import create_app

    class Server(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "worker_class": "gthread",
                "workers": 1,
                "threads": threads,
                # gthread workers notify the arbiter from their main loop, so a long
                # upload does not count as a hung worker; this bounds a truly stuck one.
                "timeout": 120,
                "graceful_timeout": 20,
                "keepalive": 5,
                # The app writes one JSON access line per request without query strings
                # (they may carry tokens); gunicorn's own access log stays off.
                "accesslog": None,
                "errorlog": "-",
                "proc_name": "secure-exchange",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    return Server()


class SupervisedWorker:
    """The Celery worker, restarted when it dies, at most ``max_restarts`` times per ``window``.

    A worker killed by the OOM killer or a SIGKILL leaves its jobs to the
    reconciler (their leases run out); this brings a worker back to run them.
    A worker that keeps dying (bad configuration) is not restarted forever:
    past the budget ``up`` says so and stops.
    """

    def __init__(self, argv: list[str], max_restarts: int = 5, window: float = 300.0) -> None:
        self.argv, self.max_restarts, self.window = argv, max_restarts, window
        self.restarts: list[float] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.gave_up = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv)  # noqa: S603  (fixed argv, no shell)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            proc = self.proc
            if proc is None or proc.poll() is None:
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < self.window]
            if len(self.restarts) >= self.max_restarts:
                click.echo(
                    f"error: the worker died {len(self.restarts) + 1} times within {int(self.window)} s; "
                    "not restarting it (see its log above)",
                    err=True,
                )
                self.gave_up = True
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self.restarts.append(now)
            click.echo(f"the worker exited with {proc.returncode}; restarting it", err=True)
            self.proc = subprocess.Popen(self.argv)  # noqa: S603  (fixed argv, no shell)

    def stop(self, timeout: float = 20) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@cli.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "concurrency", default=2, show_default=True, type=int, help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=int, help="Web server threads.")
def up_command(host: str, port: int, concurrency: int, threads: int) -> None:
    """Start the portal (web server and worker)."""
    from exchange.models.database import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    children: list[subprocess.Popen[bytes]] = []
    if not redis_answers(settings.redis_url):
        redis_dir = settings.instance_path / "redis"
        redis_dir.mkdir(exist_ok=True)
        children.append(start_private_redis(settings.redis_url, str(redis_dir)))
        click.echo(f"started a private redis-server for this instance at {settings.redis_url}")
    worker = SupervisedWorker(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "-Q",
            settings.queue_name,
            "-n",
            f"exchange-{port}@%h",
        ]
    )
    worker.start()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"secure-exchange is running on http://{host}:{port}/ (Ctrl-C stops it)")
    try:
        web_server(settings, host, port, threads).run()
    finally:
        worker.stop()
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
