"""The per-unit-of-work context handed to every service function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from exchange.ports import BlobStore, Clock, TaskQueue
from exchange.settings import Settings


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    email: str
    role: str
    org_id: int
    org_name: str
    client_addr: str | None = None


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ServiceContext:
    session: Session
    blobs: BlobStore
    queue: TaskQueue
    settings: Settings
    actor: Actor | None = None
    clock: Clock = field(default_factory=SystemClock)
    client_addr: str | None = None
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the transaction has committed (e.g. queue a task)."""
        self._after_commit.append(action)

    def commit(self) -> None:
        self.session.commit()
        pending, self._after_commit = self._after_commit, []
        for action in pending:
            action()
