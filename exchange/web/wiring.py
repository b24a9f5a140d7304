"""Flask's view of the composition root: the app's wiring and per-request service contexts.

The wiring itself is built in ``exchange.wiring`` (shared with the workers
and the CLI); this module only finds it on the current app and binds a
database session to each request.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context, request

from exchange.services.context import Actor, ServiceContext
from exchange.wiring import Wiring

__all__ = ["Wiring", "close_session", "service_context", "wiring"]


def wiring() -> Wiring:
    wired: Wiring = current_app.extensions["exchange"]
    return wired


def service_context(actor: Actor | None = None) -> ServiceContext:
    """A context bound to this request's database session (closed at teardown)."""
    wired = wiring()
    if "db_session" not in g:
        g.db_session = wired.database.sessions()
    client = request.remote_addr if has_request_context() else None
    return ServiceContext(
        session=g.db_session,
        blobs=wired.blobs,
        queue=wired.queue,
        settings=wired.settings,
        actor=actor if actor is not None else g.get("actor"),
        client_addr=client,
    )


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
