"""Job figures shared by every worker, kept in one Redis hash that /metrics reads.

Workers run on many machines and processes; Prometheus scrapes the web. A
Redis hash is the one place both reach. Labels are task names and short
failure reasons only: never a file name, a case title or a document value.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)

JOB_METRICS_KEY = "exchange:metrics:jobs"


def record_job(client: redis.Redis, task: str, seconds: float, outcome: str, reason: str = "") -> None:
    """Count one finished job: its duration, its outcome and, when it failed, why."""
    pipe = client.pipeline()
    pipe.hincrbyfloat(JOB_METRICS_KEY, f"seconds_sum|{task}", seconds)
    pipe.hincrby(JOB_METRICS_KEY, f"count|{task}|{outcome}", 1)
    if outcome != "ok":
        pipe.hincrby(JOB_METRICS_KEY, f"failures|{task}|{reason or 'unknown'}", 1)
    pipe.execute()


def record_job_quietly(redis_url: str, task: str, seconds: float, outcome: str, reason: str = "") -> None:
    """record_job for workers: metrics must never fail a job, so a broker error is only logged."""
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            record_job(client, task, seconds, outcome, reason)
        finally:
            client.close()
    except redis.RedisError:
        log.warning("job metrics not recorded: the broker did not answer")
