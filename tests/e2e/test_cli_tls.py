"""Without the sandbox's CA bundle every HTTPS request fails certificate verification: the CLI says so once,
naming the host and the setting that fixes it (not "ConnectError ... after 5 attempts" per request), exit 3,
no traceback."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from tests.e2e.test_cli import rotation

CAUSE = re.compile(r"certificate verify failed for host 127\.0\.0\.1:\d+: set ROTATION_CA_BUNDLE to the CA file\?")


@pytest.mark.parametrize(
    "args",
    [
        ["rotate", "--app", "contoso-fleet"],
        ["revoke-now", "--app", "contoso-fleet", "--token-id", "ops-admin", "--reason", "test", "--yes"],
    ],
)
def test_an_untrusted_certificate_is_named_once(world: RunningWorld, tmp_path: Path, args: list[str]) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    del env["ROTATION_CA_BUNDLE"]
    done = rotation(args, env)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert len(CAUSE.findall(line)) == 1, line
    assert "attempts" not in line
    assert "ops-admin" in world.world.iotcentral.app("contoso-fleet").tokens  # nothing deleted


def test_the_incomplete_audit_names_the_cause(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    del env["ROTATION_CA_BUNDLE"]
    done = rotation(["audit", "--app", "contoso-fleet"], env)
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("audit incomplete (fail closed): ")
    assert CAUSE.search(line), line
