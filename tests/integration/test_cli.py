"""The `exchange` admin commands and `exchange up`, run as a new user would (real processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from exchange.domain.bundles.sealing import new_identity

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def add_user(
    env: dict[str, str], email: str, role: str, org: str, password: str
) -> subprocess.CompletedProcess[str]:
    args = ["users", "add", "--email", email, "--role", role, "--org", org, "--password-stdin"]
    return run(args, env, password + "\n")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("EXCHANGE_", "DATABASE_URL", "REDIS_URL"))
    }
    return {
        **clean,
        "EXCHANGE_INSTANCE": str(tmp_path / "instance"),
        "REDIS_URL": "redis://127.0.0.1:6379/13",
    }


def test_commands_fail_clearly_without_secrets(env: dict[str, str]) -> None:
    res = add_user(env, "a@example.test", "applicant", "A", "a long enough password")
    assert res.returncode == 2
    assert "missing secret(s)" in res.stderr and "exchange init" in res.stderr
    assert "Traceback" not in res.stderr


def test_init_users_orgs_tokens_and_demo(env: dict[str, str], tmp_path: Path) -> None:
    res = run(["init"], env)
    assert res.returncode == 0, res.stderr
    secrets_file = tmp_path / "instance" / "exchange.env"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert run(["init"], env).returncode == 0  # idempotent: keeps the secrets
    first = secrets_file.read_text()

    res = add_user(env, "Buyer@Example.test", "applicant", "Acme GmbH", "a long enough password")
    assert res.returncode == 0, res.stderr
    res = add_user(env, "buyer@example.test", "applicant", "Acme GmbH", "a long enough password")
    assert res.returncode == 2 and "already exists" in res.stderr
    res = add_user(env, "x@example.test", "applicant", "Acme GmbH", "short")
    assert res.returncode == 2 and "at least" in res.stderr
    res = run(
        ["users", "add", "--email", "x@example.test", "--role", "pilot", "--org", "A", "--password-stdin"],
        env,
    )
    assert res.returncode == 2

    res = add_user(env, "s@example.test", "supplier", "Supply Co", "a long enough password")
    assert res.returncode == 0, res.stderr
    _, recipient = new_identity()
    assert run(["orgs", "set-key", "Supply Co", recipient], env).returncode == 0
    bad = run(["orgs", "set-key", "Supply Co", "age1notakey"], env)
    assert bad.returncode == 2 and "age" in bad.stderr and "Traceback" not in bad.stderr
    assert run(["orgs", "set-key", "Nobody Ltd", recipient], env).returncode == 2

    token = run(["tokens", "create", "--email", "buyer@example.test"], env)
    assert token.returncode == 0 and token.stdout.strip().startswith("sx_")
    assert token.stdout.strip() not in secrets_file.read_text()
    assert run(["tokens", "create", "--email", "ghost@example.test"], env).returncode == 2

    res = add_user(env, "weak@example.test", "applicant", "Acme GmbH", "password1234")
    assert res.returncode == 2 and "common password" in res.stderr

    # Tokens are listed by id and prefix and revoked by id; a disabled user is reported once.
    listed = run(["tokens", "list", "--email", "buyer@example.test"], env)
    assert listed.returncode == 0 and token.stdout.strip() not in listed.stdout
    token_id = listed.stdout.split("\t", 1)[0]
    assert "active" in listed.stdout
    assert run(["tokens", "revoke", token_id], env).returncode == 0
    assert "revoked" in run(["tokens", "list", "--email", "buyer@example.test"], env).stdout
    assert run(["tokens", "revoke", "99999"], env).returncode == 2
    assert run(["users", "disable", "--email", "s@example.test"], env).returncode == 0
    assert run(["users", "disable", "--email", "ghost@example.test"], env).returncode == 2
    assert run(["orgs", "require-totp", "Acme GmbH"], env).returncode == 0
    strict = run(["tokens", "create", "--email", "buyer@example.test"], env)
    assert strict.returncode == 2 and "two-factor" in strict.stderr

    demo = run(["demo"], env)
    assert demo.returncode == 0, demo.stderr
    assert "applicant@demo.test" in demo.stdout and "password:" in demo.stdout
    assert (tmp_path / "instance" / "demo-keys" / "supplier.agekey").read_text().count(
        "AGE-SECRET-KEY-1"
    ) == 1
    again = run(["demo"], env)
    assert again.returncode == 0 and "exist" in again.stdout
    assert secrets_file.read_text() == first


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "exchange up exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as res:  # noqa: S310  (loopback URL we built)
                return json.loads(res.read())
        except OSError:
            time.sleep(0.3)
    raise AssertionError("exchange up did not become healthy")


def test_up_serves_and_starts_a_private_redis_when_none_answers(env: dict[str, str]) -> None:
    assert run(["init"], env).returncode == 0
    redis_port, web_port = _free_port(), _free_port()
    env = {**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "up", "--port", str(web_port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_healthy(f"http://127.0.0.1:{web_port}/healthz", proc) == {"status": "ok"}
        ready = _wait_healthy(f"http://127.0.0.1:{web_port}/readyz", proc)
        assert ready["status"] == "ready", ready
        assert {name: check["ok"] for name, check in ready["checks"].items()} == {
            "database": True,
            "broker": True,
            "object_store": True,
        }
        assert redis.Redis(port=redis_port).ping()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert "started a private redis-server" in output
    # gunicorn, not waitress: waitress spools request bodies to plaintext temp files
    assert "Starting gunicorn" in output
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=redis_port, socket_connect_timeout=1).ping()


def test_up_explains_how_to_start_redis_when_it_cannot(env: dict[str, str]) -> None:
    assert run(["init"], env).returncode == 0
    # Only the interpreter's own folder on PATH: no redis-server to start.
    no_redis = {
        **env,
        "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0",
        "PATH": str(Path(sys.executable).parent),
    }
    res = run(["up", "--port", str(_free_port())], no_redis)
    assert res.returncode == 2
    assert "no Redis answers" in res.stderr and "redis-server" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_audit_verify_detects_a_tampered_event(env: dict[str, str], tmp_path: Path) -> None:
    import sqlite3

    assert run(["init"], env).returncode == 0
    assert (
        add_user(env, "u1@example.test", "applicant", "Acme GmbH", "a long enough password").returncode == 0
    )
    assert (
        add_user(env, "u2@example.test", "applicant", "Acme GmbH", "a long enough password").returncode == 0
    )
    clean = run(["audit", "verify"], env)
    assert clean.returncode == 0, clean.stderr
    assert "system:" in clean.stdout and "BROKEN" not in clean.stdout

    # Someone with database access rewrites who created the first user.
    with sqlite3.connect(tmp_path / "instance" / "exchange.sqlite3") as conn:
        conn.execute("UPDATE audit_events SET actor_email = 'intruder@example.test' WHERE seq = 1")
    tampered = run(["audit", "verify"], env)
    assert tampered.returncode == 1
    assert "BROKEN at event 1" in tampered.stdout
