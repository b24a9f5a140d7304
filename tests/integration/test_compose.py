"""docker-compose.yml validates against the Compose Specification schema (no Docker engine in CI)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_schema() -> dict:
    # check-jsonschema vendors the official compose-spec schema; no network needed.
    text = (
        resources.files("check_jsonschema").joinpath("builtin_schemas/vendor/compose-spec.json").read_text()
    )
    return json.loads(text)


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_validates_against_the_spec() -> None:
    jsonschema.validate(load_compose(), compose_schema())


def test_schema_rejects_a_broken_file() -> None:
    broken = load_compose()
    broken["services"]["web"]["depends_on"] = {"init": {"condition": "whenever"}}
    try:
        jsonschema.validate(broken, compose_schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted an invalid depends_on condition")


def test_stack_has_health_checks_and_dependencies() -> None:
    services = load_compose()["services"]
    assert {"web", "worker", "redis", "postgres"} <= set(services)
    for name in ("web", "worker", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (ROOT / "Dockerfile").is_file()
