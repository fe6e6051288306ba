"""Every command's --json output validates against its documented schema (rotation/cli/schemas/, listed in
docs/cli.md), carries a top-level schema_version, and every planned item says which action it is."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from rotation.cli.jsonout import SCHEMA_VERSION, SCHEMAS, schema
from tests.e2e.test_cli import rotation
from tests.integration.audit_support import register_northwind

ROOT = Path(__file__).parents[2]


def _valid(command: str, stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    jsonschema.Draft202012Validator(schema(command), format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["schema_version"] == SCHEMA_VERSION
    return document


def test_every_schema_is_a_valid_json_schema_and_documented() -> None:
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command, file in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema(command))
        assert f"rotation/cli/schemas/{file}" in docs, file
        assert f"`{command}" in docs or f"rotation {command}" in docs, command
    assert {p.name for p in (ROOT / "rotation" / "cli" / "schemas").glob("*.json")} == set(SCHEMAS.values())


def test_plan_names_the_action_of_every_planned_item(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))  # northwind-labs not registered yet: its items are Blocked
    done = rotation(["plan", "--json"], env)
    document = _valid("plan", done.stdout)
    planned = {
        (job["job"], app["app"]): [p["action"] for p in app["planned"]]
        for job in document["jobs"]
        for app in job["apps"]
    }
    assert planned[("rotate", "northwind-labs")] == ["Blocked"]
    assert "Mint" in planned[("rotate", "contoso-fleet")]
    assert {"Revoke", "DeleteToken"} <= set(planned[("revoke", "contoso-fleet")])


def test_every_command_json_matches_its_schema(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    env = service_env(world, tmp_path, timedelta(0))
    first = _valid("audit", rotation(["audit", "--json"], env).stdout)
    for job in ("rotate", "revoke"):
        assert _valid(job, rotation([job, "--json"], env).stdout)["job"] == job
    cycle = _valid("run", rotation(["run", "--json"], env).stdout)
    audit = cycle["jobs"][-1]
    _valid("report diff", rotation(["report", "diff", first["run_dir"], audit["run_dir"], "--json"], env).stdout)
    simulated = _valid("simulate", rotation(["simulate", "--days", "30", "--json"], env).stdout)
    assert "contoso-fleet" in simulated["apps"]
    revoked = rotation(
        ["revoke-now", "--app", "contoso-fleet", "--token-id", "ops-admin", "--json", "--reason", "t", "--yes"], env
    )
    assert _valid("revoke-now", revoked.stdout)["status"] == "done"
