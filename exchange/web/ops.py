"""Operations endpoints: liveness, readiness and Prometheus metrics.

* ``/healthz`` answers as long as the process serves requests; it touches
  nothing else, so a database outage never gets the web process restarted.
* ``/readyz`` probes the database, the broker and the object store (each with
  its latency in ms) and reports the worker heartbeat when the health
  service provides one; 503 when a dependency fails, with the store's own
  status (507: full or read-only) reported beside it.
* ``/metrics`` is for the operator only: a bearer token from
  ``EXCHANGE_METRICS_TOKEN`` (compared in constant time) or a signed-in
  admin. Anyone else gets 404 (anonymous) or 401/404, so the endpoint does
  not advertise itself. Metrics carry counts, sizes and durations, never
  names or ids.

Metrics live in this process (one gunicorn worker process with threads, so
one registry sees every request); job durations and failures are recorded
by workers into Redis (``record_job``) and read at scrape time.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import redis
from flask import Blueprint, Flask, Response, abort, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from exchange.adapters.job_metrics import JOB_METRICS_KEY
from exchange.web.wiring import wiring

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)

PROBE_TIMEOUT = 2.0

REGISTRY = CollectorRegistry(auto_describe=True)
UPLOAD_BYTES = Counter("exchange_upload_bytes", "Bytes of uploaded files stored", registry=REGISTRY)
DOWNLOAD_BYTES = Counter("exchange_download_bytes", "Bytes of sealed bundles sent", registry=REGISTRY)
UPLOADS_REFUSED = Counter(
    "exchange_uploads_refused", "Uploads refused, by reason", ["reason"], registry=REGISTRY
)
REQUEST_SECONDS = Histogram(
    "exchange_request_seconds",
    "Request durations by route template and status class",
    ["route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        wiring().settings.redis_url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
    )


class _BrokerCollector:
    """Queue depth and worker-recorded job figures, read from Redis at scrape time."""

    def __init__(self, client: Callable[[], redis.Redis]) -> None:
        self._client = client

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily(
            "exchange_queue_depth", "Jobs waiting in the Celery queue", labels=["queue"]
        )
        seconds = CounterMetricFamily("exchange_job_seconds", "Time spent in jobs, by task", labels=["task"])
        jobs = CounterMetricFamily(
            "exchange_jobs", "Jobs finished, by task and outcome", labels=["task", "outcome"]
        )
        failures = CounterMetricFamily(
            "exchange_job_failures", "Failed jobs, by task and reason", labels=["task", "reason"]
        )
        try:
            client = self._client()
            queue = wiring().settings.queue_name
            depth.add_metric([queue], float(client.llen(queue)))
            for raw_key, raw_value in client.hgetall(JOB_METRICS_KEY).items():
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                kind, *labels = key.split("|")
                value = float(raw_value)
                family = {"seconds_sum": seconds, "count": jobs, "failures": failures}.get(kind)
                if family is not None:
                    family.add_metric(labels, value)
        except redis.RedisError:
            log.warning("metrics: the broker did not answer")
        yield from (depth, seconds, jobs, failures)

    def describe(self) -> Iterable[Any]:
        return []


_collector_installed = False


def _install_collector() -> None:
    global _collector_installed  # noqa: PLW0603  (one collector per process-wide registry)
    if not _collector_installed:
        REGISTRY.register(_BrokerCollector(_redis))
        _collector_installed = True


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


def _timed(probe: Callable[[], Any]) -> tuple[bool, float, str]:
    started = time.perf_counter()
    try:
        probe()
        ok, reason = True, ""
    except Exception as exc:  # noqa: BLE001  (any failure means not ready; the class name is the reason)
        ok, reason = False, type(exc).__name__
    return ok, round((time.perf_counter() - started) * 1000, 1), reason


def _probe_database() -> None:
    with wiring().database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _probe_broker() -> None:
    _redis().ping()


def _store_check() -> dict[str, Any]:
    blobs = wiring().blobs
    check = getattr(blobs, "check", None)
    if check is None:
        # A store without a probe: existence of a server-shaped key proves it answers.
        ok, ms, reason = _timed(lambda: blobs.exists(blobs.new_key("probe")))
        return {"ok": ok, "latency_ms": ms, "status": 200 if ok else 503, "reason": reason}
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001  (a probe that raises counts as unreachable)
        return {
            "ok": False,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "status": 503,
            "reason": type(exc).__name__,
        }
    return {
        "ok": bool(result.ok),
        "backend": getattr(result, "backend", None),
        "latency_ms": round(float(getattr(result, "latency_ms", 0.0)), 1),
        "status": int(getattr(result, "status", 200 if result.ok else 503)),
        "reason": getattr(result, "reason", ""),
    }


def worker_state() -> str:
    """ "alive", "dead" or "unknown": the health service's worker heartbeat, when there is one."""
    try:
        from exchange.services import health  # noqa: PLC0415  (optional: provided by the jobs work)
    except ImportError:
        return "unknown"
    probe = getattr(health, "worker_alive", None)
    if probe is None:
        return "unknown"
    try:
        alive = probe(wiring().settings.redis_url)
    except Exception:  # noqa: BLE001  (a heartbeat we cannot read is unknown, not dead)
        log.warning("readyz: the worker heartbeat could not be read")
        return "unknown"
    return "alive" if alive else "dead"


@bp.get("/readyz")
def readyz() -> Any:
    checks: dict[str, dict[str, Any]] = {}
    for name, probe in (("database", _probe_database), ("broker", _probe_broker)):
        ok, ms, reason = _timed(probe)
        checks[name] = {"ok": ok, "latency_ms": ms} | ({"reason": reason} if reason else {})
    checks["object_store"] = _store_check()
    ready = all(c["ok"] for c in checks.values())
    worker = worker_state()
    body = {"status": "ready" if ready else "unavailable", "checks": checks, "worker": worker}
    return jsonify(body), 200 if ready else 503


def _metrics_allowed() -> bool:
    token = wiring().settings.metrics_token
    header = request.headers.get("Authorization", "")
    scheme, _, offered = header.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return True
    actor = g.get("actor")
    return actor is not None and actor.role == "admin"


@bp.get("/metrics")
def metrics() -> Any:
    if not _metrics_allowed():
        # 401 only to someone who tried to authenticate; the rest see nothing here.
        abort(401 if request.headers.get("Authorization") else 404)
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def _count_download(response: Response) -> Response:
    """Counts a bundle download's bytes as they are sent, not as the view promised."""
    if request.endpoint == "api_v1.download" and response.status_code == 200 and response.is_streamed:
        inner = response.response

        def counted() -> Iterator[bytes]:
            for chunk in inner:
                data = chunk if isinstance(chunk, bytes) else chunk.encode()
                DOWNLOAD_BYTES.inc(len(data))
                yield data

        response.response = counted()
    return response


_REFUSAL_REASONS = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "case_locked",
    413: "too_large",
    422: "refused_content_or_name",
    503: "busy",
    507: "storage_full",
}


def _observe(response: Response) -> Response:
    rule = request.url_rule
    started = g.get("request_started")
    if started is not None:
        REQUEST_SECONDS.labels(
            rule.rule if rule else "unmatched", f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
    if request.endpoint == "api_v1.upload_file":
        if response.status_code == 201:
            UPLOAD_BYTES.inc(g.get("upload_bytes", 0))
        else:
            UPLOADS_REFUSED.labels(_REFUSAL_REASONS.get(response.status_code, "other")).inc()
    return response


def register(app: Flask) -> None:
    _install_collector()
    app.register_blueprint(bp)
    app.after_request(_count_download)
    app.after_request(_observe)
