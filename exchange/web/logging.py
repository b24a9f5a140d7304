"""Structured JSON logs with a request id on every line of a request.

Invariants (what may appear in a log line):

* ids (request, user, case/file/bundle ids in the path), sizes, statuses,
  durations, method and route; never header values other than the request
  id, never cookies, tokens, passwords, query strings (they may carry a
  token), bodies, or uploaded file names (a file name is content too).
* ``X-Request-ID`` from the client is used only when it is well-formed
  (letters, digits, ``.-_:``, 8 to 128 characters); otherwise a fresh one is
  generated. It is echoed in the response either way.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
#: attributes every LogRecord has; anything else was passed as ``extra`` and is logged
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
access_log = logging.getLogger("exchange.access")


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id()
        return True


def configure(level: int = logging.INFO) -> None:
    """Send this process's logs to stderr as JSON lines (once per process)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_exchange_cli", False)]:
        root.removeHandler(handler)  # a server started from the CLI logs JSON lines only
    if any(getattr(h, "_exchange_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_RequestIdFilter())
    handler._exchange_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)


def _begin() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _WELL_FORMED_ID.match(offered) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    rid = g.get("request_id")
    if rid is None:  # a request that failed before the first hook ran
        _begin()
        rid = g.request_id
    response.headers[REQUEST_ID_HEADER] = rid
    actor = g.get("actor")
    rule = request.url_rule
    access_log.info(
        "request",
        extra={
            "method": request.method,
            # the path without its query string: ids only, tokens never
            "path": request.path,
            "route": rule.rule if rule is not None else None,
            "status": response.status_code,
            "duration_ms": round(
                (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 1
            ),
            "request_bytes": request.content_length,
            "response_bytes": response.content_length,
            "user_id": actor.user_id if actor is not None else None,
        },
    )
    return response


def register(app: Flask) -> None:
    configure()
    # Before every other hook, so even the validation refusals carry the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
