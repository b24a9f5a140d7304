"""Refuse text the database cannot store, before any view or service sees it.

PostgreSQL rejects NUL (``\\x00``) in text columns and psycopg cannot encode
lone surrogates (JSON's ``"\\ud800"`` decodes to one); either used to surface
as a 500 from deep inside a commit. One ``before_request`` hook checks every
value a request can carry into storage or logs: the path and its ids, query
parameters, header values (the bearer token, CSRF token, forwarded client
address), url-encoded and in-memory multipart form fields (the sign-in
e-mail), JSON keys and strings at any depth, and small text bodies (policies).
The answer is a one-line 400 naming where the bad character was.

Streaming upload bodies are not read here (that would defeat streaming);
their file name is checked by ``exchange.domain.filetypes.upload_name`` and
their plain fields are UTF-8-checked by the streaming parser.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, request

from exchange.domain.errors import DomainError
from exchange.web.uploads import request_is_streaming_upload

#: Text bodies larger than this are left to their views' own size limits.
MAX_CHECKED_BODY = 1024 * 1024
#: Nesting the walk follows; deeper JSON is refused like json's own RecursionError.
MAX_DEPTH = 200


class UnstorableText(DomainError):
    status = 400


def unstorable(value: str) -> bool:
    """True when ``value`` holds NUL or a lone surrogate."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _refuse(where: str) -> UnstorableText:
    return UnstorableText(
        f"{where} contains a NUL or an unpaired surrogate character, which cannot be stored"
    )


def _check_all(pairs: Iterable[tuple[str, str]], where: str) -> None:
    for key, value in pairs:
        if unstorable(key) or unstorable(value):
            raise _refuse(where)


def _check_json(document: Any) -> None:
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnstorableText("malformed JSON: nested too deeply")
        if isinstance(node, str):
            if unstorable(node):
                raise _refuse("the JSON body")
        elif isinstance(node, dict):
            for key, value in node.items():
                if unstorable(key):
                    raise _refuse("the JSON body")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def check_request() -> None:
    if unstorable(request.path) or any(
        isinstance(v, str) and unstorable(v) for v in (request.view_args or {}).values()
    ):
        raise _refuse("the URL path")
    _check_all(request.args.items(multi=True), "a query parameter")
    _check_all(request.headers.items(), "a request header")
    if request.remote_addr and unstorable(request.remote_addr):
        raise _refuse("the forwarded client address")
    if request.method in ("GET", "HEAD", "OPTIONS") or request_is_streaming_upload():
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_all(request.form.items(multi=True), "a form field")
        _check_all(((k, f.filename or "") for k, f in request.files.items(multi=True)), "a file name")
    elif request.is_json:
        try:
            document = request.get_json(silent=True)
        except RecursionError:
            raise UnstorableText("malformed JSON: nested too deeply") from None
        if document is not None:
            _check_json(document)
    elif (request.content_length or 0) <= MAX_CHECKED_BODY and request.mimetype.startswith(
        ("text/", "application/yaml", "application/x-yaml")
    ):
        body = request.get_data(cache=True)
        if b"\x00" in body:
            raise _refuse("the request body")


def register(app: Flask) -> None:
    # First of all hooks: sign-in, CSRF and the views must never see such text.
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
