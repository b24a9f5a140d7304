"""Fixtures shared by the functional tests: the web app on a test stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from exchange import create_app
from tests.conftest import Stack


@pytest.fixture
def client(stack: Stack) -> Iterator[FlaskClient]:
    """A test client of the app on ``stack``; its database connections are closed afterwards."""
    app = create_app(stack.settings)
    yield app.test_client()
    app.extensions["exchange"].database.dispose()
