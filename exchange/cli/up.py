"""`exchange up`: the web server (waitress) and a Celery worker, together.

When no Redis answers at REDIS_URL and the URL points at this machine, a
private redis-server is started for the instance (no persistence, loopback
only). Children are stopped when the command ends.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from types import FrameType
from urllib.parse import urlparse

import click

from exchange.cli.base import cli, fail
from exchange.cli.runtime import load_settings

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


@cli.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "concurrency", default=2, show_default=True, type=int, help="Worker processes.")
def up_command(host: str, port: int, concurrency: int) -> None:
    """Start the portal (web server and worker)."""
    from waitress import serve

    from exchange import create_app
    from exchange.models.database import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    children: list[subprocess.Popen[bytes]] = []
    if not redis_answers(settings.redis_url):
        redis_dir = settings.instance_path / "redis"
        redis_dir.mkdir(exist_ok=True)
        children.append(start_private_redis(settings.redis_url, str(redis_dir)))
        click.echo(f"started a private redis-server for this instance at {settings.redis_url}")
    worker = subprocess.Popen(  # noqa: S603  (fixed argv, no shell)
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
            "exchange",
            "-n",
            f"exchange-{port}@%h",
        ],
    )
    children.append(worker)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"secure-exchange is running on http://{host}:{port}/ (Ctrl-C stops it)")
    try:
        serve(
            create_app(settings),
            host=host,
            port=port,
            threads=8,
            ident="secure-exchange",
            clear_untrusted_proxy_headers=True,
        )
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
