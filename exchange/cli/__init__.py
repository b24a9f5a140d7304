"""The ``exchange`` command: a thin adapter over the services and the domain.

Every subcommand parses its input, calls one service or domain function and
translates the outcome. Bad input exits with code 2 and one line on stderr;
no subcommand prints a stack trace for a user's mistake.
"""

from __future__ import annotations

from exchange.cli import admin, redact, scan, up  # noqa: F401  (registers the subcommands)
from exchange.cli.base import cli


def main() -> None:
    cli(prog_name="exchange")


__all__ = ["cli", "main"]
