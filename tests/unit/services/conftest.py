"""The case services' fixture (a real SQLite file with in-memory ports), shared by the job tests."""

from tests.unit.services.test_case_services import ctx  # noqa: F401  (re-exported as a fixture)
