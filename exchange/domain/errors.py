"""The domain's error tree.

Every error a user can cause derives from :class:`DomainError` and carries a
one-line, secret-free message. The web layer maps these to HTTP statuses in
one place (``exchange.web.errors``); the CLI maps them to exit code 2.
"""

from __future__ import annotations


class DomainError(Exception):
    """A failure the user can understand and act on (never a bug)."""

    #: HTTP status the web layer answers with.
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """Input that is well-formed transport-wise but semantically wrong."""

    status = 422


class UnsupportedFile(InvalidInput):
    """A file whose type or content the portal cannot process."""


class PolicyError(InvalidInput):
    """A redaction policy that does not validate; names the field or line."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    """The action does not fit the object's current state."""

    status = 409


class TooLarge(DomainError):
    status = 413


class StorageUnavailable(DomainError):
    """The blob store cannot be reached or refused the operation; nothing was stored.

    Transient by nature (an outage, a timeout): callers may retry later.
    """

    status = 503


class StorageFull(StorageUnavailable):
    """The blob store has no room or is read-only; nothing half-written counts as stored.

    A kind of :class:`StorageUnavailable`, so a caller that retries or reports
    outages handles it too, but it answers 507 so an operator sees the cause.
    """

    status = 507
