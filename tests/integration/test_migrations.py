"""Migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from exchange.models import Base
from exchange.models.database import upgrade

pytestmark = pytest.mark.integration


def _diff(url: str) -> list:
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return diff


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'm.sqlite3'}") == []


def test_postgresql_schema_matches_models(postgres_database: str) -> None:
    from exchange.settings import normalise_database_url

    assert _diff(normalise_database_url(postgres_database)) == []
