"""Typed, frozen settings shared by the web server, the workers and the CLI.

Settings come from the environment, then from an optional ``exchange.env``
file in the instance folder (``KEY=value`` lines; the environment wins).
Secrets are never defaulted: a missing one fails hard at start-up with a
message naming it, so a misconfigured deployment cannot run with a
guessable key. ``exchange init`` writes fresh secrets into the instance file
for the one-command local start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.sandbox import SandboxLimits

SECRET_NAMES = ("EXCHANGE_SECRET_KEY", "EXCHANGE_STORAGE_IDENTITY", "EXCHANGE_SIGNING_KEY")
INSTANCE_FILE = "exchange.env"


class ConfigurationError(RuntimeError):
    """Raised when the configuration is incomplete; the message names what is missing."""


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where an ``s3://`` blob store connects; credentials never appear in a repr or log."""

    #: e.g. http://seaweedfs:8333; empty means AWS itself
    endpoint: str = ""
    region: str = "us-east-1"
    #: empty keys leave boto3's own credential chain (an instance role, for example)
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    #: create the bucket when it is missing (development, compose); off for managed buckets
    create_bucket: bool = False
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    #: botocore's attempts per call (first try included) before the store counts as unavailable
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class Settings:
    instance_path: Path
    database_url: str
    redis_url: str
    secret_key: str = field(repr=False)
    #: age identity (AGE-SECRET-KEY-1...) that encrypts every stored blob at rest.
    storage_identity: str = field(repr=False)
    #: Ed25519 private key (PEM, or base64 raw 32 bytes) that signs bundle manifests.
    signing_key: str = field(repr=False)
    max_upload_bytes: int = 50 * 1024 * 1024
    max_files_per_case: int = 200
    session_cookie_secure: bool = False
    task_time_limit: int = 900
    trusted_proxies: int = 0
    #: resource limits and OCR settings of the redaction engines
    engine_limits: EngineLimits = field(default_factory=EngineLimits)
    #: what one sandboxed engine run may use (memory headroom, CPU, files, writes)
    sandbox_limits: SandboxLimits = field(default_factory=SandboxLimits)
    # -- web edge (issue 9) --
    #: uploads received at once per web process; beyond it uploads get 503 with Retry-After
    max_concurrent_uploads: int = 4
    #: bearer token that may read /metrics (empty: only admins may)
    metrics_token: str = field(default="", repr=False)
    # -- background jobs (issue 9) --
    #: the Celery queue web and workers share; two instances on one Redis use two names
    queue_name: str = "exchange"
    #: how long a running job's lease lasts; its heartbeat renews it every third
    #: of this, and the reconciler re-queues a job whose lease ran out
    job_lease_seconds: int = 120
    #: how often each worker's reconciler relays the outbox and looks for lost jobs
    reconcile_interval_seconds: int = 15
    # -- blob storage (issue 9) --
    #: file:///absolute/dir or s3://bucket/prefix; empty means file://<instance>/blobs
    blob_url: str = ""
    s3: S3Settings = field(default_factory=S3Settings)
    # -- accounts and sessions (issue 10) --
    #: a signed-in session unused for this long is ended on the server
    idle_timeout_minutes: float = 30
    #: a session ends this long after sign-in, however busy
    session_lifetime_hours: float = 8
    #: how long an invitation link can be used (once)
    invitation_hours: float = 72
    # -- page previews (issue 10) --
    #: pages rendered per file and view for the review page
    preview_max_pages: int = 50
    #: pixels of a rendered page's long side
    preview_long_side: int = 1200
    #: wall clock for rendering one file's views (LibreOffice and OCR included)
    preview_seconds: float = 300
    #: how long a browser may keep a page image (private cache only)
    preview_cache_seconds: int = 300
    #: render every processed file's pages at once (worth it with a worker of its own); by
    #: default pages are rendered when the review page first asks, so processing is not delayed
    preview_eager: bool = False

    @property
    def blob_root(self) -> Path:
        return self.instance_path / "blobs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        instance = Path(env.get("EXCHANGE_INSTANCE", "instance")).resolve()
        # An empty variable (as compose passes for unset ones) does not hide the instance file.
        merged = {**read_env_file(instance / INSTANCE_FILE), **{k: v for k, v in env.items() if v != ""}}
        missing = [name for name in SECRET_NAMES if not merged.get(name)]
        if missing:
            raise ConfigurationError(
                f"missing secret(s): {', '.join(missing)}; set them in the environment "
                f"or run `exchange init` to create {instance / INSTANCE_FILE}"
            )
        database_url = merged.get("DATABASE_URL") or f"sqlite:///{instance / 'exchange.sqlite3'}"
        return cls(
            instance_path=instance,
            database_url=normalise_database_url(database_url),
            redis_url=merged.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            secret_key=merged["EXCHANGE_SECRET_KEY"],
            storage_identity=merged["EXCHANGE_STORAGE_IDENTITY"],
            signing_key=merged["EXCHANGE_SIGNING_KEY"],
            max_upload_bytes=int(merged.get("EXCHANGE_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)),
            max_files_per_case=int(merged.get("EXCHANGE_MAX_FILES_PER_CASE", 200)),
            session_cookie_secure=merged.get("EXCHANGE_SECURE_COOKIES", "0") in ("1", "true", "yes"),
            task_time_limit=int(merged.get("EXCHANGE_TASK_TIME_LIMIT", 900)),
            trusted_proxies=int(merged.get("EXCHANGE_TRUSTED_PROXIES", 0)),
            engine_limits=engine_limits_from_env(merged),
            sandbox_limits=sandbox_limits_from_env(merged),
            # -- web edge (issue 9) --
            max_concurrent_uploads=int(_number(merged, "EXCHANGE_MAX_CONCURRENT_UPLOADS", 4)),
            metrics_token=merged.get("EXCHANGE_METRICS_TOKEN", ""),
            queue_name=merged.get("EXCHANGE_QUEUE") or "exchange",
            job_lease_seconds=int(_number(merged, "EXCHANGE_JOB_LEASE_SECONDS", 120)),
            reconcile_interval_seconds=int(_number(merged, "EXCHANGE_RECONCILE_INTERVAL_SECONDS", 15)),
            # -- blob storage (issue 9) --
            blob_url=merged.get("EXCHANGE_BLOB_URL") or f"file://{instance / 'blobs'}",
            s3=s3_settings_from_env(merged),
            # -- accounts and sessions (issue 10) --
            idle_timeout_minutes=_number(merged, "EXCHANGE_IDLE_TIMEOUT_MINUTES", 30),
            session_lifetime_hours=_number(merged, "EXCHANGE_SESSION_LIFETIME_HOURS", 8),
            invitation_hours=_number(merged, "EXCHANGE_INVITATION_HOURS", 72),
            # -- page previews (issue 10) --
            preview_max_pages=int(_number(merged, "EXCHANGE_PREVIEW_MAX_PAGES", 50)),
            preview_long_side=int(_number(merged, "EXCHANGE_PREVIEW_LONG_SIDE", 1200)),
            preview_seconds=_number(merged, "EXCHANGE_PREVIEW_SECONDS", 300),
            preview_cache_seconds=int(_number(merged, "EXCHANGE_PREVIEW_CACHE_SECONDS", 300)),
            preview_eager=merged.get("EXCHANGE_PREVIEW_EAGER", "0") in ("1", "true", "yes"),
        )


def s3_settings_from_env(env: Mapping[str, str]) -> S3Settings:
    """``EXCHANGE_S3_*`` settings; keys in the standard ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``."""
    default = S3Settings()
    return S3Settings(
        endpoint=env.get("EXCHANGE_S3_ENDPOINT", ""),
        region=env.get("EXCHANGE_S3_REGION") or env.get("AWS_DEFAULT_REGION") or default.region,
        access_key_id=env.get("AWS_ACCESS_KEY_ID", ""),
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
        create_bucket=env.get("EXCHANGE_S3_CREATE_BUCKET", "0") in ("1", "true", "yes"),
        connect_timeout=_number(env, "EXCHANGE_S3_CONNECT_TIMEOUT", default.connect_timeout),
        read_timeout=_number(env, "EXCHANGE_S3_READ_TIMEOUT", default.read_timeout),
        max_attempts=int(_number(env, "EXCHANGE_S3_MAX_ATTEMPTS", default.max_attempts)),
    )


def _number(env: Mapping[str, str], name: str, fallback: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return fallback
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive")
    return value


def sandbox_limits_from_env(environ: Mapping[str, str] | None = None) -> SandboxLimits:
    """Sandbox limits from ``EXCHANGE_SANDBOX_*`` variables (sizes in MiB)."""
    env = os.environ if environ is None else environ
    default = SandboxLimits()
    mib = 2**20
    return SandboxLimits(
        memory_bytes=int(_number(env, "EXCHANGE_SANDBOX_MEMORY_MB", default.memory_bytes / mib) * mib),
        cpu_seconds=int(_number(env, "EXCHANGE_SANDBOX_CPU_SECONDS", default.cpu_seconds)),
        open_files=int(_number(env, "EXCHANGE_SANDBOX_OPEN_FILES", default.open_files)),
        max_write_bytes=int(
            _number(env, "EXCHANGE_SANDBOX_MAX_WRITE_MB", default.max_write_bytes / mib) * mib
        ),
        max_result_bytes=int(
            _number(env, "EXCHANGE_SANDBOX_MAX_RESULT_MB", default.max_result_bytes / mib) * mib
        ),
    )


def engine_limits_from_env(environ: Mapping[str, str] | None = None) -> EngineLimits:
    """Engine limits from ``EXCHANGE_*`` variables; the CLI uses this without any secrets."""
    env = os.environ if environ is None else environ
    default = EngineLimits()

    def number(name: str, fallback: float) -> float:
        return _number(env, name, fallback)

    return EngineLimits(
        max_input_bytes=int(number("EXCHANGE_MAX_FILE_BYTES", default.max_input_bytes)),
        max_pages=int(number("EXCHANGE_MAX_PAGES", default.max_pages)),
        max_image_pixels=int(number("EXCHANGE_MAX_IMAGE_PIXELS", default.max_image_pixels)),
        ocr_languages=env.get("EXCHANGE_OCR_LANGUAGES") or default.ocr_languages,
        ocr_timeout=number("EXCHANGE_OCR_TIMEOUT", default.ocr_timeout),
        ocr_review_confidence=number("EXCHANGE_OCR_REVIEW_CONFIDENCE", default.ocr_review_confidence),
        ocr_workers=int(number("EXCHANGE_OCR_WORKERS", default.ocr_workers)),
        max_seconds_per_file=number("EXCHANGE_MAX_SECONDS_PER_FILE", default.max_seconds_per_file),
        video_sample_fps=number("EXCHANGE_VIDEO_SAMPLE_FPS", default.video_sample_fps),
        video_max_seconds=number("EXCHANGE_VIDEO_MAX_SECONDS", default.video_max_seconds),
    )


def normalise_database_url(url: str) -> str:
    """Select the psycopg 3 driver for plain PostgreSQL URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
