"""Two local runs started in different working directories share the per-app lock: this test holds the
lock of contoso-fleet (a run started in one folder) while `rotation rotate` runs from another folder in a
subprocess, which skips that app and changes nothing; once released, the same command rotates."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from rotation.engine.jobs import HELD_ELSEWHERE
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs

REPO = Path(__file__).resolve().parents[2]
WAIT = 300  # seconds: only a bound on a run that would otherwise never end, never a timing
ROTATE = ["rotate", "--app", "contoso-fleet", "--slot", "dashboard-reader", "--now", "--json", "--reason", "test"]


def _rotate_from(folder: Path, env: dict[str, str]) -> dict[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rotation", *ROTATE],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_run_from_another_folder_skips_the_app_whose_lock_is_held(
    world: RunningWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        **service_env(world, tmp_path / "reports", timedelta(0)),
        "ROTATION_REPORTS_DIR": "reports",  # relative: where the locks used to be
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),  # this test's per-user state folder
        "PYTHONPATH": str(REPO),
    }  # the code under test, whatever the subprocess's working directory
    monkeypatch.setenv("XDG_STATE_HOME", env["XDG_STATE_HOME"])
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    settings = Settings.from_env(env)
    runtime = Runtime(settings, load_app_specs(settings, env)[0])
    held = runtime.app_lock("contoso-fleet")
    before = set(world.world.iotcentral.app("contoso-fleet").tokens)
    assert held.try_acquire()
    try:
        skipped = _rotate_from(tmp_path / "elsewhere", env)
    finally:
        held.release()
        runtime.close()
    apps: list[dict[str, list[dict[str, str]]]] = skipped["apps"]  # type: ignore[assignment]
    assert [(o["action"], o["status"], o["reason"]) for a in apps for o in a["outcomes"]] == [
        ("Lease", "skipped", HELD_ELSEWHERE)
    ]
    assert set(world.world.iotcentral.app("contoso-fleet").tokens) == before

    rotated = _rotate_from(tmp_path / "elsewhere", env)
    assert not rotated["failed"]
    minted = set(world.world.iotcentral.app("contoso-fleet").tokens) - before
    assert len([t for t in minted if t.startswith("rot-dashboard-reader-")]) == 1
