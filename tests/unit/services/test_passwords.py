"""The password rule: long enough and not a common or guessable password."""

from __future__ import annotations

import pytest

from exchange.domain.errors import InvalidInput
from exchange.services.passwords import check_password


@pytest.mark.parametrize(
    "password",
    ["password1234", "qwertyuiop123", "iloveyou2024", "1234567890", "letmein12345", "Password123!"],
)
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput, match="password refused"):
        check_password(password)


def test_short_passwords_are_refused_with_the_rule() -> None:
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        check_password("x7#Lq!9z")


def test_a_password_made_of_the_users_own_details_is_refused() -> None:
    with pytest.raises(InvalidInput, match="password refused"):
        check_password("acmemagnets2024", ["buyer@acmemagnets.test", "Acme Magnets GmbH"])


@pytest.mark.parametrize("password", ["correct horse battery staple", "violet kettle under a quiet bridge"])
def test_long_uncommon_passwords_pass(password: str) -> None:
    check_password(password, ["someone@example.test"])


def test_very_long_passwords_are_scored_quickly() -> None:
    check_password("plum orbit cedar " * 60)
    with pytest.raises(InvalidInput, match="at most"):
        check_password("a" * 1025)
