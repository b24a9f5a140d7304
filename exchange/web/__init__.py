"""Web adapters: browser pages and the JSON API, as blueprints."""

from __future__ import annotations

from flask import Flask

from exchange.web import auth, errors, pages
from exchange.web.api import v1
from exchange.web.wiring import close_session


def register_web(app: Flask) -> None:
    app.before_request(auth.load_actor)
    app.teardown_appcontext(close_session)
    app.after_request(auth.security_headers)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(v1.bp)
    app.add_url_rule("/healthz", "healthz", v1.healthz)
    errors.register(app)
