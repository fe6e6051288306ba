"""The audit on the sample world through the real clients: every seeded violation found, the compliant
tokens passing, and after a rotate → revoke cycle the next run's diff shows what was resolved."""

from __future__ import annotations

import fnmatch
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from emulators.sandbox import RunningWorld
from emulators.sandbox.seed import AUDIT_VIOLATIONS
from rotation.audit.run import run_audit
from rotation.engine.jobs import run_job
from tests.integration.audit_support import audit_runtime, register_northwind, vault_values

CONTROLS_ON_EVERY_TOKEN = ("IOTC-001", "IOTC-002", "IOTC-003", "IOTC-004", "IOTC-005", "IOTC-009")
CONTROLS_ON_EVERY_SLOT = ("IOTC-006", "IOTC-007", "IOTC-008", "IOTC-012", "IOTC-013")


def test_every_seeded_violation_fails_and_compliant_tokens_pass(
    world: RunningWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    register_northwind(world)
    runtime = audit_runtime(world, tmp_path)
    run = run_audit(runtime)
    assert run.report.complete, [f.message for f in run.report.errors]
    assert run.exit_code == 1  # open findings at or above high

    for control, pattern in AUDIT_VIOLATIONS.items():
        glob = (
            pattern.replace("{exporter}", "rot-exporter-*")
            .replace("{orphan}", "*-zz99")
            .replace("{previous}", "*-a1b2")
        )
        matching = [
            f for f in run.all_findings() if f.control_id == control and fnmatch.fnmatch(f"{f.app}/{f.resource}", glob)
        ]
        expected = "MANUAL" if control == "IOTY-002" else "FAIL"
        assert [f.status for f in matching] == [expected], (control, glob, matching)

    contoso = world.world.iotcentral.app("contoso-fleet")
    compliant = next(t for t in contoso.tokens if t.endswith("-c3d4"))
    by_key = {(f.control_id, f.app, f.resource): f.status for f in run.all_findings()}
    for control in CONTROLS_ON_EVERY_TOKEN:
        assert by_key[(control, "contoso-fleet", f"tokens/{compliant}")] == "PASS", control
    for control in CONTROLS_ON_EVERY_SLOT:
        assert by_key[(control, "contoso-fleet", "slots/dashboard-reader")] == "PASS", control
    assert run.report.diff.previous_run is None

    text = "".join(p.read_text(encoding="utf-8") for p in run.run_dir.iterdir()) + caplog.text
    leaked = [v[:10] for v in vault_values(world) if v in text]
    assert leaked == []
    runtime.close()


def test_after_a_cycle_the_diff_shows_what_was_resolved(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    runtime = audit_runtime(world, tmp_path)
    before = run_audit(runtime)
    assert not run_job(runtime, "rotate").failed
    assert not run_job(runtime, "revoke").failed
    after = run_audit(runtime)
    diff = after.report.diff
    assert diff.previous_run == before.report.run_id
    resolved = {e.uid for e in diff.resolved}
    for uid in (
        "IOTC-006:contoso-fleet/slots/auditor",
        "IOTC-013:northwind-labs/slots/telemetry-reader",
        "IOTC-007:fabrikam-stores/slots/alerts",
        "IOTC-008:fabrikam-stores/slots/reporting",
        "IOTC-012:contoso-fleet/slots/maintenance",
    ):  # rotate repairs a current token that fails
        assert uid in resolved, uid
    assert any(u.startswith("IOTC-009:contoso-fleet/tokens/") and u.endswith("-zz99") for u in resolved)
    assert any(u.startswith("IOTC-005:fabrikam-stores/tokens/rot-exporter-") for u in resolved)
    assert {e.uid for e in diff.unchanged} >= {"IOTC-002:contoso-fleet/tokens/ops-admin"}
    assert diff.new == ()
    assert (tmp_path / "latest").resolve() == after.run_dir.resolve()
    runtime.close()


def test_an_unreadable_app_fails_closed(world: RunningWorld, tmp_path: Path) -> None:
    """northwind-labs without bootstrap: the service is not a user there (403)."""
    runtime = audit_runtime(world, tmp_path)
    run = run_audit(runtime, fail_on="critical")
    errors = [f for f in run.report.errors if f.app == "northwind-labs"]
    assert [f.control_id for f in errors] == ["AUDIT-001"]
    assert "403" in errors[0].evidence["errors"]
    assert run.exit_code == 3
    html = (run.run_dir / "audit.html").read_text(encoding="utf-8")
    assert "Audit incomplete (fail closed)" in html
    assert not [f for f in run.all_findings() if f.app == "northwind-labs" and f.status == "PASS"]
    runtime.close()


def test_the_report_timeline_shows_revocations_after_the_grace_period(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    runtime = audit_runtime(world, tmp_path)
    run_job(runtime, "rotate")
    run_job(runtime, "revoke")
    world.world.clock.advance(timedelta(hours=25))
    later = audit_runtime(world, tmp_path, timedelta(hours=25))
    run_job(later, "revoke")
    html = (run_audit(later).run_dir / "audit.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 3  # one timeline per IoT Central app
    assert ": revoked 20" in html  # the cross's tooltip on the superseded token
    assert "grace period (still valid)" in html
    assert "unmanaged: ops-admin" in html
    later.close()
    runtime.close()
