"""The CLI conventions operators expect (issue 15): -h and --help on every command, --version, shell
completion, and an "Examples:" section in every command's help."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from rotation.cli.app import app
from rotation.cli.examples import EXAMPLES

COMMANDS = sorted(EXAMPLES)
GROUPS = ["policies", "report"]


def _all_commands() -> set[str]:
    root = typer.main.get_command(app)
    names: set[str] = set()
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        children = getattr(command, "commands", None)
        names |= {f"{name} {child}" for child in children} if children else {name}
    return names


def test_every_command_has_examples() -> None:
    assert _all_commands() == set(EXAMPLES)


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", COMMANDS)
def test_help_with_examples_on_every_command(command: str, flag: str) -> None:
    done = CliRunner().invoke(app, [*command.split(), flag], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    assert "Usage:" in done.output
    assert "Examples:" in done.output
    for example in EXAMPLES[command]:
        assert example in done.output


@pytest.mark.parametrize("group", ["", *GROUPS])
def test_short_help_on_the_root_and_groups(group: str) -> None:
    done = CliRunner().invoke(app, [*group.split(), "-h"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    assert "Usage:" in done.output


def test_version_is_the_installed_distributions() -> None:
    expected = importlib.metadata.version("iotc-token-rotation")
    for args in (["--version"], ["version"]):
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "rotation", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=dict(os.environ),
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected


def test_shell_completion_is_enabled() -> None:
    done = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "--install-completion" in done.output
    assert "--show-completion" in done.output
    script = subprocess.run(
        [sys.executable, "-m", "rotation", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    assert script.returncode == 0, script.stderr
    assert "complete " in script.stdout
