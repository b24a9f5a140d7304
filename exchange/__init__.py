"""secure-exchange: per-recipient redaction and sealed exchange of evidence.

``create_app`` is wiring only: it takes the adapters from the composition
root (``exchange.wiring.build``: settings, database, blob store, task queue)
and adds what only the web needs: blueprints, error handlers, Celery's app
context.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from exchange.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from exchange.adapters.queue import CeleryTaskQueue
    from exchange.extensions import celery_init_app, csrf
    from exchange.web import register_web
    from exchange.web.request import InMemoryUploadRequest
    from exchange.wiring import build

    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.request_class = InMemoryUploadRequest
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # A little headroom for the multipart envelope around a maximum-size file.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 256 * 1024,
        MAX_FORM_MEMORY_SIZE=512 * 1024,
        SESSION_COOKIE_NAME="sx_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=settings.session_cookie_secure,
        JSON_SORT_KEYS=False,
    )
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    celery = celery_init_app(app, settings)
    app.extensions["exchange"] = build(settings, queue=CeleryTaskQueue(celery))
    csrf.init_app(app)
    register_web(app)
    if settings.trusted_proxies:
        proxied = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
        app.wsgi_app = proxied  # type: ignore[method-assign]
    return app
