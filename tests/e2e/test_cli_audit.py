"""`rotation audit` and `rotation report diff` end to end in subprocesses against the sample world:
exit codes by threshold, user errors as one line with exit 2, an invalid policy recorded as a failed
audit, and the diff of two stored runs."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from tests.e2e.test_cli import rotation
from tests.integration.audit_support import register_northwind, vault_values


def test_audit_exit_codes_follow_the_threshold(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    env = service_env(world, tmp_path, timedelta(0))
    high = rotation(["audit", "--app", "contoso-fleet"], env)
    assert high.returncode == 1, high.stderr  # critical and high findings are open
    assert "IOTC-002" in high.stdout
    assert "reports: " in high.stdout
    dashboard_only = rotation(["audit", "--app", "greenhouse", "--fail-on", "critical", "--json"], env)
    assert dashboard_only.returncode == 1
    document = json.loads(dashboard_only.stdout)
    assert document["open_by_severity"]["critical"] == 1  # the export key iottly rejects
    assert {f["app"] for f in document["findings"]} == {"greenhouse"}
    every_output = high.stdout + high.stderr + dashboard_only.stdout + dashboard_only.stderr
    assert [v[:10] for v in vault_values(world) if v in every_output] == []


def test_audit_user_errors_are_one_line_and_exit_2(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    for args, expected in (
        (["audit", "--fail-on", "severe"], "--fail-on: got 'severe'"),
        (["audit", "--format", "pdf"], "--format: got 'pdf'"),
        (["audit", "--app", "nope"], "--app: got 'nope'"),
        (["report", "diff", str(tmp_path / "a"), str(tmp_path / "b")], "OLD: got"),
    ):
        done = rotation(args, env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(expected), done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "latest").exists()  # nothing written


def test_an_invalid_policy_is_recorded_as_a_failed_audit(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text(
        "version: 1\napps:\n  - name: contoso\n    provider: iotcentral\n    subdomain: -bad-\n"
        "    vault: https://kv.vault.azure.net\n",
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    done = rotation(["audit"], {**os.environ, "ROTATION_POLICIES": str(policy), "ROTATION_REPORTS_DIR": str(reports)})
    assert done.returncode == 2
    assert done.stderr.startswith(f"{policy}:5 apps[0].subdomain: got '-bad-'")
    assert "Traceback" not in done.stderr
    events = json.loads((reports / "latest" / "audit.ocsf.json").read_text(encoding="utf-8"))
    assert [(e["compliance"]["control"], e["status_code"]) for e in events] == [("AUDIT-002", "FAIL")]
    assert "Audit incomplete" in (reports / "latest" / "audit.html").read_text(encoding="utf-8")
    first_run = (reports / "LATEST").read_text(encoding="utf-8")
    cycle = rotation(["run"], {**os.environ, "ROTATION_POLICIES": str(policy), "ROTATION_REPORTS_DIR": str(reports)})
    assert cycle.returncode == 2  # nothing rotated or revoked, and the audit records why
    assert (reports / "LATEST").read_text(encoding="utf-8") != first_run


def test_report_diff_of_two_runs(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    env = service_env(world, tmp_path, timedelta(0))
    first = json.loads(rotation(["audit", "--json"], env).stdout)
    cycle = rotation(["run", "--json"], env)
    assert cycle.returncode == 1, cycle.stderr  # rotation fine, findings remain
    jobs = json.loads(cycle.stdout)["jobs"]
    audit = next(j for j in jobs if j["job"] == "audit")
    assert "IOTC-006:contoso-fleet/slots/auditor" in audit["resolved"]
    diff = rotation(["report", "diff", first["run_dir"], audit["run_dir"], "--json"], env)
    assert diff.returncode == 0, diff.stderr
    document = json.loads(diff.stdout)
    assert document["old"] == first["run_id"]
    resolved = {e["uid"] for e in document["resolved"]}
    assert "IOTC-013:northwind-labs/slots/telemetry-reader" in resolved
    assert document["new_findings"] == []
    table = rotation(["report", "diff", first["run_dir"] + "/audit.ocsf.json", audit["run_dir"]], env)
    assert "resolved" in table.stdout
