"""The TaskQueue port on Celery: tasks are sent by name, so ``exchange`` never imports ``workers``."""

from __future__ import annotations

from typing import Any

from celery import Celery


class CeleryTaskQueue:
    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def enqueue(self, task_name: str, *args: Any) -> None:
        self.celery.send_task(task_name, args=list(args))
