"""The only module-level singletons: CSRF protection and the Celery app factory."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from exchange.settings import Settings

csrf = CSRFProtect()


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    """Flask's Celery pattern: every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=settings.redis_url,
        result_backend=settings.redis_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(settings.task_time_limit - 30, 30),
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue="exchange",
        broker_transport_options={"visibility_timeout": settings.task_time_limit + 300},
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
