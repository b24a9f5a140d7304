"""The TaskQueue port on Celery: tasks are sent by name, so ``exchange`` never imports ``workers``.

Sending gives up quickly (a few short retries) when the broker is down: the
caller's job is already in the outbox, and the periodic relay sends it once
the broker is back, so a web request must not wait on Redis.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}


class CeleryTaskQueue:
    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def enqueue(self, task_name: str, *args: Any) -> None:
        self.celery.send_task(
            task_name, args=list(args), retry=True, retry_policy=RETRY_POLICY, ignore_result=True
        )
