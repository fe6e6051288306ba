"""The `rotation` CLI end to end in subprocesses: user errors are one line and exit 2, nothing else;
engine commands against a running sample world; secrets only from stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from emulators.core.faults import Fault
from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import POLICIES, service_env


def rotation(args: list[str], env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rotation", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
        env=env or dict(os.environ),
    )


def test_policies_check_reports_every_problem_on_its_own_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\napps:\n  - name: X\n    provider: iotcentral\n    subdomain: ok\n"
        "    vault: http://kv.example.com\n    tokens: []\n",
        encoding="utf-8",
    )
    done = rotation(["policies", "check", str(bad)])
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines == [
        (
            f"{bad}:3 apps[0].name: got 'X', expected lowercase letters, digits and hyphens ([a-z0-9-]), 1-63 "
            "characters, not starting or ending with a hyphen"
        ),
        (
            f"{bad}:6 apps[0].vault: got 'http://kv.example.com', expected an https:// URL (http:// only to loopback: "
            "127.0.0.0/8, ::1, localhost)"
        ),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["rotate", "--now"],
        ["rotate", "--app", "nope"],
        ["policies", "check", "/no/such/dir"],
    ],
)
def test_user_errors_exit_2_without_a_traceback(args: list[str], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ROTATION_POLICIES": str(Path(__file__).parents[2] / "docs" / "policy-example.yaml"),
        "ROTATION_VAULT_URL": "https://kv.vault.azure.net",
    }
    done = rotation(args, env)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_bad_settings_exit_2(tmp_path: Path) -> None:
    done = rotation(["plan"], {**os.environ, "ROTATION_MAX_CONCURRENCY": "many"})
    assert done.returncode == 2
    assert done.stderr.strip() == "ROTATION_MAX_CONCURRENCY: got 'many', expected an integer from 1 to 64"


def test_plan_then_forced_rotation_and_revoke_now(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    plan = rotation(["plan", "--json", "--app", "contoso-fleet"], env)
    assert plan.returncode == 0, plan.stderr
    planned = [a for job in json.loads(plan.stdout)["jobs"] for app in job["apps"] for a in app["planned"]]
    reasons = [a["reason"] for a in planned]
    assert any(r.startswith("due: ") for r in reasons)
    assert any(r.startswith("grace period 24h over") for r in reasons)
    assert any(r.startswith("orphan: ") for r in reasons)
    before = set(world.world.iotcentral.app("contoso-fleet").tokens)

    forced = rotation(
        ["rotate", "--app", "contoso-fleet", "--slot", "dashboard-reader", "--now", "--json", "--reason", "test"], env
    )
    assert forced.returncode == 0, forced.stderr
    minted = set(world.world.iotcentral.app("contoso-fleet").tokens) - before
    assert len([t for t in minted if t.startswith("rot-dashboard-reader-")]) == 1

    current = world.world.vault.versions("iotc-contoso-fleet-dashboard-reader")[-1].tags["token-id"]
    refused = rotation(
        ["revoke-now", "--app", "contoso-fleet", "--token-id", current, "--reason", "test", "--yes"], env
    )
    assert refused.returncode == 2
    assert "the current token of slot dashboard-reader" in refused.stderr
    assert current in world.world.iotcentral.app("contoso-fleet").tokens
    done = rotation(
        ["revoke-now", "--app", "contoso-fleet", "--token-id", "ops-admin", "--reason", "test", "--yes"], env
    )
    assert done.returncode == 0, done.stderr
    assert "ops-admin" not in world.world.iotcentral.app("contoso-fleet").tokens


def test_iottly_import_reads_the_key_from_stdin_and_checks_it(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    refused = rotation(["import", "--app", "greenhouse", "--slot", "ingest"], env, stdin="not-a-key\n")
    assert refused.returncode == 2
    assert "iottly refused the key" in refused.stderr
    key = world.world.iottly.add_key("greenhouse", "rotation: ingest (new)")
    done = rotation(["import", "--app", "greenhouse", "--slot", "ingest"], env, stdin=key.value + "\n")
    assert done.returncode == 0, done.stderr
    assert key.value not in done.stdout + done.stderr
    versions = world.world.vault.versions("iottly-greenhouse-ingest")
    assert versions[-1].value == key.value
    assert [v.tags["stage"] for v in versions] == ["previous", "current"]


def test_simulate_a_year_of_the_sandbox_policy(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ROTATION_POLICIES": str(POLICIES),
        "SANDBOX_IOTCENTRAL_BASE": "https://127.0.0.1:1",
        "SANDBOX_VAULT_URL": "https://127.0.0.1:2",
        "SANDBOX_IOTTLY_URL": "https://127.0.0.1:3",
    }
    done = rotation(["simulate", "--days", "365", "--json", "--app", "northwind-labs"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["apps"]["northwind-labs"]
    assert report["gaps"] == {"telemetry-reader": []}
    mints = [e for e in report["events"] if e["kind"] == "mint+promote"]
    assert len(mints) >= 365 // 7


def test_bootstrap_from_a_workstation_names_the_service_identity(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    token = world.bootstrap_token_file.read_text(encoding="utf-8") if world.bootstrap_token_file else ""
    object_id, tenant_id = "0b5d7c1e-1111-4a2b-9c3d-4e5f6a7b8c9d", "72f988bf-86f1-41af-91ab-2d7cd011db47"
    refused = rotation(["bootstrap", "--app", "northwind-labs", "--object-id", object_id], env, stdin=token)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "--tenant-id: got None, expected a GUID (--object-id and --tenant-id go together)"
    )
    done = rotation(
        ["bootstrap", "--app", "northwind-labs", "--object-id", object_id, "--tenant-id", tenant_id], env, stdin=token
    )
    assert done.returncode == 0, done.stderr
    assert f"registered identity {object_id}" in done.stdout
    assert token.strip() not in done.stdout + done.stderr
    user = world.world.iotcentral.app("northwind-labs").service_principal(object_id, tenant_id)
    assert user is not None


def test_plan_exits_3_when_an_app_cannot_be_read(world: RunningWorld, tmp_path: Path) -> None:
    """plan is the pre-flight: an app its identity may not read (403) must fail it like rotate."""
    env = service_env(world, tmp_path, timedelta(0))
    world.world.iotcentral.faults.add(Fault("error", route="ApiTokens_List", status=403))
    try:
        plan = rotation(["plan", "--app", "contoso-fleet"], env)
        as_json = rotation(["plan", "--json", "--app", "contoso-fleet"], env)
    finally:
        world.world.iotcentral.faults.clear()
    assert plan.returncode == 3, plan.stderr
    assert "plan: contoso-fleet: blocked: " in plan.stderr
    assert "(new role assignments can take several minutes to propagate)" in plan.stderr
    assert "Traceback" not in plan.stderr
    assert as_json.returncode == 3, as_json.stderr
    assert json.loads(as_json.stdout)["jobs"][0]["apps"][0]["errors"]
