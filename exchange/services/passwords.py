"""Which passwords are accepted.

Threat: online and offline guessing with lists of common passwords. Length
alone lets ``password1234`` through, so a password must also score at
least 3 of 4 with zxcvbn (the ``zxcvbn`` package on PyPI, a port of
Dropbox's estimator). It ships its frequency lists (common passwords, names,
English words, keyboard patterns) inside the package and makes no network
calls, so the check works on an offline host and needs no build step. It
also penalises passwords built from the user's own email and organisation.

Only the first 72 characters are scored: zxcvbn refuses longer input, as its matching grows with
input length, and a password strong in its first 72 characters is strong.
Nothing here logs or returns the password.
"""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from exchange.domain.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_SCORE = 3
_SCORED_PREFIX = 72  # zxcvbn refuses longer input (its default max_length)


def check_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Raise InvalidInput, with a reason a person can act on, unless the password is acceptable."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must have at most {MAX_LENGTH} characters")
    hints = [
        part for value in user_inputs for part in value.replace("@", " ").replace(".", " ").split() if part
    ]
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=hints)
    if int(result["score"]) < MIN_SCORE:
        feedback = result.get("feedback") or {}
        reason = feedback.get("warning") or "it is too easy to guess"
        advice = " ".join(feedback.get("suggestions") or ["Use a few uncommon words together."])
        raise InvalidInput(f"password refused: {reason.rstrip('.')}. {advice}".strip())
