"""`rotation policies check FILE` in a subprocess on hostile or broken policy files: an alias bomb, Python and
custom tags, bytes that are not UTF-8, a date that does not exist, a verify path that leaves /api/. Each is one
line `file:line where: got X, expected Y` on stderr and exit 2 -- never a traceback, a hang or exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_policyfile_reading import GOOD, laughs

WAIT = 120  # seconds: only a bound on a run that would otherwise never end (the bomb did), never a timing


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rotation", "policies", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        env=dict(os.environ),
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(10, 9), encoding="utf-8")  # 10**9 nodes after expansion in about 400 bytes
    line = _one_line(check(bomb))
    assert line.startswith(f"{bomb}:6 <yaml>: got more than 100000 nodes after alias expansion, expected at most")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\napps: !!python/object/apply:os.system ['echo owned']\n",
            ":2 apps: got the tag '!!python/object/apply:os.system', expected only standard YAML",
        ),
        ("version: 1\napps: !custom []\n", ":2 apps: got the tag '!custom', expected only standard YAML"),
    ],
)
def test_tags_other_than_the_standard_ones(tmp_path: Path, text: str, expected: str) -> None:
    policy = tmp_path / "tagged.yaml"
    policy.write_text(text, encoding="utf-8")
    assert _one_line(check(policy)).startswith(f"{policy}{expected}")


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    policy = tmp_path / "latin1.yaml"
    policy.write_bytes("version: 1\napps: []\n# café\n".encode("latin-1"))
    assert _one_line(check(policy)) == (
        f"{policy}:3 <file>: got bytes that are not UTF-8 (at byte 25), expected UTF-8 text"
    )


def test_a_date_that_does_not_exist(tmp_path: Path) -> None:
    policy = tmp_path / "date.yaml"
    allowed = "    allow_unmanaged:\n      - {id: ops-admin, until: 2026-02-30, justification: legacy}\n"
    policy.write_text(GOOD + allowed, encoding="utf-8")
    assert _one_line(check(policy)) == (
        f"{policy}:11 apps[0].allow_unmanaged[0].until: got '2026-02-30', expected a valid date YYYY-MM-DD"
    )


@pytest.mark.parametrize("path", ["/api/../apps/other", "/api/./devices", "/api//devices", "/api/%2E%2e/x"])
def test_a_verify_path_outside_api_is_refused(tmp_path: Path, path: str) -> None:
    policy = tmp_path / "verify.yaml"
    policy.write_text(GOOD + f"        verify: {{method: GET, path: '{path}'}}\n", encoding="utf-8")
    line = _one_line(check(policy))
    assert line.startswith(f"{policy}:10 apps[0].tokens[0].verify.path: got {path!r}, expected a path under /api/")


def test_custom_roles_with_the_default_verify_call_are_a_note_not_an_error(tmp_path: Path) -> None:
    policy = tmp_path / "custom.yaml"
    policy.write_text(GOOD.replace("{role: operator}", "{role: Fleet Reader}"), encoding="utf-8")
    done = check(policy)
    assert done.returncode == 0, done.stderr[-2000:]
    [note] = done.stderr.strip().splitlines()
    assert note.startswith(f"note: {policy}:8 apps[0].tokens[0].verify: the default GET /api/devices")
    assert "not listed by GET /api/roles" in note
