"""Scoped audits (`--app X`) are compared per app with the newest run that covered the app: after a full
audit, two scoped runs show nothing new and nothing resolved, no other app is resolved, and `latest` still
names the full run. Locally and through Blob Storage (Azurite, fresh local folders as on a worker)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from emulators.azurite import AzuriteEndpoints
from emulators.sandbox import RunningWorld
from rotation.audit.run import AuditRun, run_audit
from rotation.hosting.runtime import Runtime
from tests.integration.audit_support import audit_runtime, register_northwind

SCOPE = "contoso-fleet"


def _audit(
    world: RunningWorld, reports: Path, *, only: str | None = None, extra: dict[str, str] | None = None
) -> AuditRun:
    full = audit_runtime(world, reports, extra=extra)
    runtime = (
        full
        if only is None
        else Runtime(
            full.settings,
            [a for a in full.apps if a.name == only],
            iottly_apps=[a for a in full.iottly_apps if a.name == only],
        )
    )
    try:
        return run_audit(runtime, scoped=only is not None)
    finally:
        runtime.close()
        full.close()


def _apps(uids: object) -> set[str]:
    return {e.uid.split(":", 1)[1].split("/", 1)[0] for e in uids}  # type: ignore[attr-defined]


def _assert_scoped_runs_are_quiet(first: AuditRun, scoped: list[AuditRun]) -> None:
    assert len(_apps(e for e in first.report.diff.new)) > 1  # the full run saw several apps
    for run in scoped:
        diff = run.report.diff
        assert (diff.new, diff.resolved) == ((), ()), (diff.new, diff.resolved)
        assert _apps(diff.unchanged) <= {SCOPE, "-"}
        assert diff.baselines[SCOPE] == (first.report.run_id if run is scoped[0] else scoped[0].report.run_id)
    manifest = json.loads((scoped[-1].run_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["scope"] == "apps"
    assert SCOPE in manifest["apps"]
    sarif = json.loads((scoped[-1].run_dir / "audit.sarif").read_text(encoding="utf-8"))
    assert {r["baselineState"] for r in sarif["runs"][0]["results"]} == {"unchanged"}
    html = (scoped[-1].run_dir / "audit.html").read_text(encoding="utf-8")
    assert "<strong>0</strong> resolved" in html
    assert f"Scoped run: only {SCOPE} audited" in html


def test_scoped_audits_after_a_full_one_show_no_false_changes(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    first = _audit(world, tmp_path)
    scoped = [_audit(world, tmp_path, only=SCOPE), _audit(world, tmp_path, only=SCOPE)]
    _assert_scoped_runs_are_quiet(first, scoped)
    assert (tmp_path / "LATEST").read_text(encoding="utf-8").strip() == first.report.run_id
    assert (tmp_path / "latest").resolve() == first.run_dir.resolve()
    after = _audit(world, tmp_path)  # the next full run: other apps compared with the first full run
    assert (after.report.diff.new, after.report.diff.resolved) == ((), ())
    assert after.report.diff.baselines[SCOPE] == scoped[-1].report.run_id
    assert set(after.report.diff.baselines.values()) == {first.report.run_id, scoped[-1].report.run_id}
    assert f"{SCOPE} → <code>{scoped[-1].report.run_id}</code>" in (after.run_dir / "audit.html").read_text(
        encoding="utf-8"
    )
    assert (tmp_path / "latest").resolve() == after.run_dir.resolve()


@pytest.mark.azurite
def test_scoped_audits_read_per_app_baselines_from_blob(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    register_northwind(world)
    extra = {
        "ROTATION_REPORTS_CONNECTION_STRING": azurite.connection_string,
        "ROTATION_REPORTS_CONTAINER": f"reports-{uuid.uuid4().hex[:12]}",
    }
    first = _audit(world, tmp_path / "a", extra=extra)
    assert first.upload_error is None
    assert any(name.endswith("/run.json") for name in first.published)
    scoped = [
        _audit(world, tmp_path / "b", only=SCOPE, extra=extra),
        _audit(world, tmp_path / "c", only=SCOPE, extra=extra),
    ]
    _assert_scoped_runs_are_quiet(first, scoped)
