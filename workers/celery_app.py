"""Worker entry point: ``celery -A workers.celery_app worker``.

Builds the Flask app (same settings as the web server) and exposes its
Celery instance, so every task runs inside an app context.
"""

from __future__ import annotations

from celery import Celery

from exchange import create_app

flask_app = create_app()
celery_app: Celery = flask_app.extensions["celery"]
celery_app.conf.include = ["workers.tasks"]
# Import for the side effect of registering tasks when the module is loaded directly.
import workers.tasks  # noqa: E402, F401

app = celery_app
