"""Per-process wiring and per-request service contexts for Flask adapters."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, has_request_context, request

from exchange.adapters.throttle import LoginThrottle
from exchange.models.database import Database
from exchange.ports import BlobStore, TaskQueue
from exchange.services.context import Actor, ServiceContext
from exchange.settings import Settings


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    database: Database
    blobs: BlobStore
    queue: TaskQueue
    login_throttle: LoginThrottle


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
