"""The root click group and the error translation every subcommand shares."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click

from exchange.domain.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes are part of the CLI contract.
EXIT_BAD_INPUT = 2
EXIT_LEAK = 3


class _OneLineFormatter(logging.Formatter):
    """Warnings for a terminal: one line each, never a traceback (those belong in server logs)."""

    def formatException(self, ei: Any) -> str:  # noqa: N802  (logging's name)
        return ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802  (logging's name)
        return ""


@click.group(help="secure-exchange: redacted, sealed exchange of export-licence evidence.")
def cli() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_OneLineFormatter("%(levelname)s: %(message)s"))
        handler.setLevel(logging.WARNING)
        handler._exchange_cli = True  # type: ignore[attr-defined]  # servers replace it (web.logging)
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line on stderr and exit; the CLI's only way to report bad input."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def domain_errors_exit(func: F) -> F:
    """Turn a DomainError into exit code 2 with its one-line message."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            fail(exc.message)

    return wrapper  # type: ignore[return-value]
