"""What CLI commands that touch the database share: settings, migrations, a service context."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from exchange.cli.base import fail
from exchange.settings import INSTANCE_FILE, ConfigurationError, Settings, read_env_file

if TYPE_CHECKING:
    from exchange.services.context import ServiceContext


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        fail(str(exc))


class _NoQueue:
    """CLI commands never queue work; a call here is a programming error."""

    def enqueue(self, task_name: str, *args: object) -> None:
        raise RuntimeError(f"the CLI cannot queue {task_name}")


@contextmanager
def cli_context(migrate: bool = True) -> Iterator[ServiceContext]:
    from exchange.models.database import upgrade
    from exchange.services.context import ServiceContext as Context
    from exchange.wiring import build

    settings = load_settings()
    if migrate:
        upgrade(settings.database_url)
    try:
        wired = build(settings, queue=_NoQueue())
    except ConfigurationError as exc:
        fail(str(exc))
    session = wired.database.sessions()
    try:
        ctx = Context(
            session=session,
            blobs=wired.blobs,
            queue=wired.queue,
            settings=settings,
            client_addr="cli",
        )
        yield ctx
        ctx.commit()
    finally:
        session.close()
        wired.close()


def ensure_instance_secrets(instance: Path) -> bool:
    """Write missing secrets to the instance file (mode 0600). True when it wrote any."""
    from exchange.domain.bundles.sealing import new_identity
    from exchange.domain.bundles.signing import generate_signing_key

    instance.mkdir(parents=True, exist_ok=True)
    path = instance / INSTANCE_FILE
    existing = read_env_file(path)
    fresh = {
        "EXCHANGE_SECRET_KEY": lambda: secrets.token_urlsafe(48),
        "EXCHANGE_STORAGE_IDENTITY": lambda: new_identity()[0],
        "EXCHANGE_SIGNING_KEY": generate_signing_key,
    }
    lines = [f"{name}={make()}" for name, make in fresh.items() if not existing.get(name)]
    if not lines:
        return False
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    with path.open("a", encoding="utf-8") as handle:
        if not existing:
            handle.write("# secure-exchange instance secrets; keep this file private and backed up.\n")
        handle.write("\n".join(lines) + "\n")
    return True
