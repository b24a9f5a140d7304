"""Web adapters: browser pages, the JSON API and the operations endpoints, as blueprints.

Hook order matters: the request id is assigned first and text the database
cannot store is refused next, before sign-in, CSRF or any view reads input.
"""

from __future__ import annotations

from flask import Flask

from exchange.web import (
    auth,
    errors,
    i18n,
    inbox_pages,
    ops,
    pages,
    policy_pages,
    security_pages,
    uploads,
    validation,
)
from exchange.web import logging as web_logging
from exchange.web.api import bureau, previews, resumable, review, v1
from exchange.web.review_pages import bp as review_pages_bp
from exchange.web.wiring import close_session, wiring


def register_web(app: Flask) -> None:
    uploads.install(app, wiring_slots(app))
    app.before_request(auth.load_actor)
    validation.register(app)
    web_logging.register(app)
    app.teardown_appcontext(close_session)
    app.after_request(auth.security_headers)
    i18n.register(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(v1.bp)
    app.register_blueprint(review_pages_bp)
    for feature in (review, previews, bureau, resumable):
        app.register_blueprint(feature.bp)
    security_pages.register(app)
    policy_pages.register(app)
    inbox_pages.register(app)
    ops.register(app)
    errors.register(app)


def wiring_slots(app: Flask) -> int:
    with app.app_context():
        return wiring().settings.max_concurrent_uploads
