"""Local per-app locks live in one absolute per-user place (ROTATION_STATE_DIR, default the user's state
folder), fixed when the settings are read: two runs started in different working directories contend for
the same lock file. (They used to lock `reports/.locks` relative to each run's working directory.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from rotation.adapters.locks import FileAppLock
from rotation.domain.model import AppSpec
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime

APP_NAME = "iotc-token-rotation"  # the state folder's name is a contract: renaming it would lose held locks
APP = AppSpec(
    name="contoso-fleet", base_url="https://127.0.0.1:1/apps/contoso-fleet", vault="https://127.0.0.1:2", slots=()
)


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The per-user state folder of this test (platformdirs follows XDG_STATE_HOME)."""
    home = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def _lock_in(folder: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> FileAppLock:
    """A run started in `folder`: settings read there, its lock built through `Runtime.app_lock`."""
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(folder)
    lock = Runtime(Settings.from_env(env), [APP]).app_lock("contoso-fleet")
    assert isinstance(lock, FileAppLock)
    return lock


def test_the_default_is_the_users_state_folder(state_home: Path) -> None:
    settings = Settings.from_env({})
    assert settings.state_dir == (state_home / APP_NAME).resolve()
    assert settings.state_dir.is_absolute()
    assert not settings.state_dir.exists()  # reading the settings makes nothing


def test_a_relative_state_dir_is_resolved_once_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    settings = Settings.from_env({"ROTATION_STATE_DIR": "state"})
    monkeypatch.chdir(tmp_path)
    assert settings.state_dir == (tmp_path / "a" / "state").resolve()


def test_runs_from_two_working_directories_contend_for_one_lock(
    tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"ROTATION_REPORTS_DIR": "reports"}  # relative, as a local run's default is
    first = _lock_in(tmp_path / "one", monkeypatch, env)
    assert first.path.is_absolute()
    assert first.path.parent == (state_home / APP_NAME / "locks").resolve()
    assert first.try_acquire()
    try:
        second = _lock_in(tmp_path / "two", monkeypatch, env)
        assert second.path == first.path
        assert not second.try_acquire()
    finally:
        first.release()
    assert second.try_acquire()
    second.release()


def test_an_explicit_state_dir_holds_the_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = _lock_in(tmp_path / "cwd", monkeypatch, {"ROTATION_STATE_DIR": str(tmp_path / "state")})
    assert lock.path.parent == (tmp_path / "state" / "locks").resolve()
