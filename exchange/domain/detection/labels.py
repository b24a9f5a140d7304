"""Consistent replacement labels per case: ``[CUSTOMER-3]``.

Invariants:

* Within one case (one persisted state), the same value gets the same label
  in every file and for every recipient; a different value of the same type
  never gets the same label.
* "Same value" is spelling-insensitive: :func:`~.terms.name_key` folds case,
  spacing, hyphenation, diacritics/umlaut expansions, legal suffix and
  possessive, so ``Kestrel Dynamics GmbH`` and ``KESTREL DYNAMICS's`` share a
  label. Detection passes the declared term itself for declared findings, so
  a short name (``Kestrel``) gets its customer's label too.
* The persisted state holds no plaintext: values are keyed by a salted
  SHA-256 (the salt is random per case and lives in the state). The labels
  themselves reveal only how many distinct values of a type exist.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from exchange.domain.detection.terms import name_key
from exchange.domain.errors import InvalidInput

STATE_VERSION = 1


class Labeller:
    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        if state is None or not state:
            self._salt = secrets.token_hex(16)
            self._next: dict[str, int] = {}
            self._labels: dict[str, str] = {}
            return
        try:
            if state.get("v") != STATE_VERSION:
                raise InvalidInput("label state has an unknown version")
            self._salt = str(state["salt"])
            self._next = {str(k): int(v) for k, v in dict(state["next"]).items()}
            self._labels = {str(k): str(v) for k, v in dict(state["labels"]).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"label state is malformed ({type(exc).__name__})") from None

    def _digest(self, entity_type: str, text: str) -> str:
        key = name_key(text) or text.strip().casefold()
        material = f"{self._salt}\x00{entity_type}\x00{key}".encode()
        return hashlib.sha256(material).hexdigest()[:32]

    def label(self, entity_type: str, text: str) -> str:
        """The label for ``text`` of ``entity_type``, e.g. ``[CUSTOMER-3]``."""
        digest = self._digest(entity_type, text)
        existing = self._labels.get(digest)
        if existing is None:
            number = self._next.get(entity_type, 0) + 1
            self._next[entity_type] = number
            existing = f"{entity_type}-{number}"
            self._labels[digest] = existing
        return f"[{existing}]"

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state to persist between files of one case."""
        return {
            "v": STATE_VERSION,
            "salt": self._salt,
            "next": dict(self._next),
            "labels": dict(self._labels),
        }
