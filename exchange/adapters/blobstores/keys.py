"""Blob keys: made by the server, checked before any store turns one into a path or object name.

A key is ``<kind>/<2 hex>/<32 hex>`` (the layout the filesystem store has
always written), so a key can never hold ``..``, a slash at either end, a
user's file name or anything a path or URL would interpret.
"""

from __future__ import annotations

import re
import secrets

_KIND = re.compile(r"^[a-z]{2,16}$")
_KEY = re.compile(r"^[a-z]{2,16}/[0-9a-f]{2}/[0-9a-f]{32}$")


class BlobKeyError(ValueError):
    """A key the server did not make; a programming error, never a user's input."""


def new_key(kind: str) -> str:
    if not _KIND.match(kind):
        raise BlobKeyError("blob kinds are 2-16 lowercase letters")
    token = secrets.token_hex(16)
    return f"{kind}/{token[:2]}/{token}"


def checked_key(key: str) -> str:
    if not _KEY.match(key):
        raise BlobKeyError("malformed blob key")
    return key
