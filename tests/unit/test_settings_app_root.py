"""Relative policy paths: anchored at the Function app's root in Functions, left to the cwd in the CLI."""

from __future__ import annotations

from pathlib import Path

from rotation.hosting.config import Settings, functions_app_root


def test_the_cli_keeps_a_relative_policy_path_relative_to_the_cwd() -> None:
    assert Settings.from_env({"ROTATION_POLICIES": "policies"}).policies == Path("policies")
    assert Settings.from_env({}).policies == Path("policies")


def test_the_function_app_reads_a_relative_policy_path_from_its_root(tmp_path: Path) -> None:
    entry = tmp_path / "app" / "function_app.py"
    root = functions_app_root({}, str(entry))
    assert root == (tmp_path / "app").resolve()
    settings = Settings.from_env({"ROTATION_POLICIES": "policies"}, app_root=root)
    assert settings.policies == (tmp_path / "app").resolve() / "policies"
    assert Settings.from_env({}, app_root=root).policies == root / "policies"


def test_the_script_root_setting_wins_over_the_entry_folder(tmp_path: Path) -> None:
    env = {"AzureWebJobsScriptRoot": str(tmp_path / "wwwroot"), "ROTATION_POLICIES": "conf/policies"}
    root = functions_app_root(env, str(tmp_path / "elsewhere" / "function_app.py"))
    assert root == (tmp_path / "wwwroot").resolve()
    assert Settings.from_env(env, app_root=root).policies == root / "conf" / "policies"


def test_an_absolute_policy_path_is_kept_in_functions(tmp_path: Path) -> None:
    absolute = tmp_path / "mine.yaml"
    settings = Settings.from_env({"ROTATION_POLICIES": str(absolute)}, app_root=tmp_path / "app")
    assert settings.policies == absolute
