"""The only module-level singletons: CSRF protection and the Celery app factory.

Celery is configured for jobs that are idempotent and leased (see
``exchange.services.runs``): late acknowledgement, a lost worker's job
rejected back to the queue, one job prefetched at a time.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from exchange.settings import Settings

csrf = CSRFProtect()


def sender_conf(settings: Settings) -> dict[str, Any]:
    """What every Celery app of ours shares, the workers' and the senders' (web, CLI) alike."""
    return {
        "broker_url": settings.redis_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": settings.queue_name,
        "broker_connection_retry_on_startup": True,
        # Redelivery of an unacknowledged job after a lost worker comes from two
        # sides: the reconciler re-queues it once its lease (EXCHANGE_JOB_LEASE_SECONDS)
        # ran out, and Redis redelivers it after the visibility timeout. The timeout
        # may be shorter than a long job: a duplicate of a job whose lease is alive
        # is skipped, so it only has to exceed a lease for the reconciler to act first.
        "broker_transport_options": {
            "visibility_timeout": 2 * settings.job_lease_seconds + 60,
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
        },
        # A send to a broker that is down gives up quickly: the outbox keeps the job.
        "broker_connection_timeout": 3,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    }


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    """Flask's Celery pattern: every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        **sender_conf(settings),
        # No result backend: nothing reads task results (state lives in the database),
        # and a result subscription broken by a Redis restart would fail every later send.
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(settings.task_time_limit - 30, 30),
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
