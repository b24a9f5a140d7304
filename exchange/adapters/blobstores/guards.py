"""Stream wrappers that keep a store's own error when a library wraps it.

pyrage turns any exception raised by the reader or writer it is given into
its own ``EncryptError``/``DecryptError`` carrying only text. The wrappers
here remember the first real exception, so the encrypted store can raise
``StorageFull`` or the caller's ``TooLarge`` instead of an opaque one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from exchange.domain.errors import StorageUnavailable

Translate = Callable[[BaseException], BaseException]


def _keep(exc: BaseException) -> BaseException:
    return exc


class GuardedSink:
    """Counts bytes written and remembers the first failure (translated)."""

    def __init__(self, write: Callable[[bytes], object], translate: Translate = _keep) -> None:
        self._write = write
        self._translate = translate
        self.written = 0
        self.failure: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            self._write(data)
        except Exception as exc:
            self.failure = self.failure or self._translate(exc)
            raise self.failure from exc
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        return None

    def raise_failure(self) -> None:
        """Refuse to commit after a write failed, even if the writer's caller swallowed the error."""
        if self.failure is not None:
            raise self.failure


class GuardedSource:
    """A reader that remembers the first failure (translated) of the stream it wraps."""

    def __init__(self, source: BinaryIO, translate: Translate = _keep) -> None:
        self._source = source
        self._translate = translate
        self.failure: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._source.read(size)
        except Exception as exc:
            self.failure = self.failure or self._translate(exc)
            raise self.failure from exc


def same_bytes(read: bytes, written: bytes) -> None:
    """A readiness probe's last step: the store gave back what it was given."""
    if read != written:
        raise StorageUnavailable("the blob store returned other bytes than were written")


def first_failure(*guards: object) -> BaseException | None:
    """The failure one of ``guards`` remembered, in order; objects that remember none are skipped."""
    for guard in guards:
        failure = getattr(guard, "failure", None)
        if isinstance(failure, BaseException):
            return failure
    return None
