"""The case services' fixtures (a real SQLite file with in-memory ports), shared by the job tests."""

from tests.unit.services.test_case_services import (  # noqa: F401  (re-exported as fixtures)
    accounts_database,
    ctx,
    migrated_database,
)
