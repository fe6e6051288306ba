"""ROTATION_REPORTS_KEEP prunes local run folders after a successful write, but never the run just written,
never `latest` and never a run some app's next diff starts from (a scoped run since the last full one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.sandbox import RunningWorld
from rotation.audit.report.baseline import LocalRuns, prune
from rotation.audit.report.files import OCSF_FILE, load_entries
from rotation.audit.report.retention import Retention, parse_keep
from rotation.audit.run import AuditRun, run_audit
from rotation.errors import ConfigError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.audit_support import audit_runtime, register_northwind

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _runs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.is_symlink() and (p / OCSF_FILE).is_file())


def _audit(world: RunningWorld, root: Path, keep: str, only: str | None = None) -> AuditRun:
    full = audit_runtime(world, root, extra={"ROTATION_REPORTS_KEEP": keep})
    runtime = full if only is None else Runtime(full.settings, [a for a in full.apps if a.name == only])
    try:
        return run_audit(runtime, scoped=only is not None, formats=["md"])
    finally:
        runtime.close()
        full.close()


def test_keep_prunes_old_runs_but_not_the_baselines_a_scoped_run_needs(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    first = _audit(world, tmp_path, "")
    _audit(world, tmp_path, "")  # nothing pruned without the setting
    assert len(_runs(tmp_path)) == 2
    full = _audit(world, tmp_path, "1")
    assert _runs(tmp_path) == [full.report.run_id]
    assert not first.run_dir.exists()
    scoped = _audit(world, tmp_path, "1", only="contoso-fleet")
    assert _runs(tmp_path) == [full.report.run_id, scoped.report.run_id]  # the full run is everyone's baseline
    again = _audit(world, tmp_path, "1", only="contoso-fleet")
    assert set(_runs(tmp_path)) >= {full.report.run_id, again.report.run_id}
    assert (again.report.diff.new, again.report.diff.resolved) == ((), ())
    assert (tmp_path / "LATEST").read_text(encoding="utf-8").strip() == full.report.run_id


def _fake_run(root: Path, moment: datetime, scope: str = "full") -> str:
    run_id = f"{moment:%Y%m%dT%H%M%S.%fZ}"
    (root / run_id).mkdir(parents=True)
    (root / run_id / OCSF_FILE).write_text("[]", encoding="utf-8")
    (root / run_id / "run.json").write_text(
        json.dumps({"run_id": run_id, "scope": scope, "apps": ["-", "a"]}), encoding="utf-8"
    )
    return run_id


def test_keep_by_age_spares_the_run_written_and_non_run_folders(tmp_path: Path) -> None:
    old = [_fake_run(tmp_path, NOW - timedelta(days=d)) for d in (90, 60, 40)]
    recent = _fake_run(tmp_path, NOW - timedelta(days=3))
    (tmp_path / "notes").mkdir()
    written = _fake_run(tmp_path, NOW, scope="apps")
    runs = LocalRuns(tmp_path, OCSF_FILE, lambda p: load_entries(p, "run")[1])
    removed = prune(runs, Retention(days=30), NOW, written)
    assert removed == old
    assert _runs(tmp_path) == [recent, written]
    assert (tmp_path / "notes").is_dir()
    # only a scoped run is younger than the cut-off: the full run before it stays (its baseline)
    lone = tmp_path / "lone"
    full = _fake_run(lone, NOW - timedelta(days=50))
    scoped = _fake_run(lone, NOW, scope="apps")
    assert prune(LocalRuns(lone, OCSF_FILE, lambda p: load_entries(p, "run")[1]), Retention(days=30), NOW, scoped) == []
    assert _runs(lone) == [full, scoped]


def test_the_setting_is_read_and_checked() -> None:
    assert Settings.from_env({"ROTATION_REPORTS_KEEP": "30d"}).reports_keep == Retention(days=30)
    assert Settings.from_env({"ROTATION_REPORTS_KEEP": "50"}).reports_keep == Retention(runs=50)
    assert Settings.from_env({}).reports_keep is None
    assert parse_keep("") is None
    for bad in ("0", "30 days", "-1", "1w"):
        with pytest.raises(ConfigError, match=rf"^ROTATION_REPORTS_KEEP: got '{bad}', expected a number of runs"):
            Settings.from_env({"ROTATION_REPORTS_KEEP": bad})
