"""The matrix's checks catch what they are meant to: each invariant is shown broken on purpose once, and
kept on a clean cycle. Without this a matrix that passes could also be one that looks at nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators.core import SandboxCA
from emulators.sandbox.seed import OPERATOR
from tests.reliability.invariants import run_problems, state_problems
from tests.reliability.runs import CliRun, ForkServer
from tests.reliability.scenario import Scenario
from tests.reliability.tap import newest_current
from tests.reliability.world import APP, SAFETY, fault_world, secret_name

pytestmark = pytest.mark.reliability


def test_a_clean_cycle_keeps_every_invariant(forks: ForkServer, reliability_ca: SandboxCA, tmp_path: Path) -> None:
    with fault_world(tmp_path, reliability_ca) as world:
        scenario = Scenario(world, forks, tmp_path)
        assert run_problems(scenario.run("rotate")) == []
        scenario.converge(revoke_first=True)
        assert scenario.problems == []
        assert state_problems(world) == []
        # first the previous token past grace and the orphan; after the jump steady's and due's previous tokens
        assert len(scenario.guard.deletions) == 4
        assert scenario.guard.violations == []


def test_a_and_b_catch_a_leftover_token_and_a_current_version_that_does_not_work(
    reliability_ca: SandboxCA, tmp_path: Path
) -> None:
    with fault_world(tmp_path, reliability_ca) as world:
        sandbox = world.sandbox
        app = sandbox.iotcentral.app(APP)
        app.create_token("rot-due-20200101000000-lost", [{"role": OPERATOR}])
        sandbox.clock.advance(SAFETY)
        app.create_token("rot-due-20200101000000-young", [{"role": OPERATOR}])  # within the window: allowed
        steady = newest_current(sandbox.vault.versions(secret_name("steady")))
        assert steady is not None
        broken = steady.value.replace("sig=", "sig=AAAA", 1)  # looks right, does not authenticate
        sandbox.vault.seed_secret(secret_name("steady"), broken, tags=dict(steady.tags))
        fresh = newest_current(sandbox.vault.versions(secret_name("fresh")))
        assert fresh is not None
        assert app.delete_token(fresh.tags["token-id"])  # deleted by hand: the vault's copy points at nothing
        problems = state_problems(world)
    assert len(problems) == 4, problems
    assert problems[0].startswith("(a) managed token rot-fresh-")  # the seeded orphan: no revoke ran
    assert problems[0].split()[3].endswith("-zz99")
    assert problems[1].startswith("(a) managed token rot-due-20200101000000-lost ")
    for problem, slot in zip(problems[2:], ("fresh", "steady"), strict=True):
        assert problem.startswith(f"(b) slot {slot}: the current version ")
        assert "does not authenticate: got HTTP 401" in problem


def test_c_catches_a_current_token_and_a_token_in_grace_being_deleted(
    forks: ForkServer, reliability_ca: SandboxCA, tmp_path: Path
) -> None:
    """Deleted by hand (`revoke-now --force`): the current token of `fresh`, the token `due`'s rotation just
    superseded, and the token of a version an interrupted promotion left tagged current in `steady`."""
    with fault_world(tmp_path, reliability_ca) as world:
        scenario = Scenario(world, forks, tmp_path)
        assert scenario.run("rotate").returncode == 0
        vault = world.sandbox.vault
        superseded = next(v for v in vault.versions(secret_name("due")) if v.tags["stage"] == "previous")
        current = newest_current(vault.versions(secret_name("fresh")))
        stale = newest_current(vault.versions(secret_name("steady")))
        assert current is not None
        assert stale is not None
        newer = "rot-steady-20200101000000-new1"
        value = world.sandbox.iotcentral.app(APP).create_token(newer, [{"role": OPERATOR}])
        vault.seed_secret(secret_name("steady"), value, tags={**stale.tags, "token-id": newer})
        deleted = [current.tags["token-id"], superseded.tags["token-id"], stale.tags["token-id"]]
        for token_id in deleted:
            done = scenario.server.run(
                ["revoke-now", "--app", APP, "--token-id", token_id, "--force", "--reason", "incident", "--yes"],
                world.env(),
                tmp_path,
            )
            assert done.returncode == 0, done.stderr
        violations = scenario.guard.violations
    assert len(violations) == 3, violations
    assert violations[0].startswith(f"(c) DELETE {deleted[0]}: it was the current token of slot fresh")
    assert violations[1].startswith(f"(c) DELETE {deleted[1]} at ")
    assert "(slot due), expected no deletion before superseded-at + grace" in violations[1]
    assert violations[2].startswith(f"(c) DELETE {deleted[2]} at ")
    assert "(still tagged current in slot steady)" in violations[2]


def _run(returncode: int, stdout: str = "", stderr: str = "") -> CliRun:
    return CliRun(("rotate", "--json"), returncode, stdout, stderr)


def test_d_wants_a_documented_exit_code_and_a_reason() -> None:
    failed = json.dumps(
        {
            "apps": [
                {
                    "app": APP,
                    "planned": [],
                    "errors": [],
                    "outcomes": [
                        {
                            "action": "Mint",
                            "status": "failed",
                            "reason": "due",
                            "detail": "create API token x: got HTTP 500",
                        }
                    ],
                }
            ]
        }
    )
    silent = json.dumps({"apps": [{"app": APP, "planned": [], "errors": [], "outcomes": []}]})
    assert run_problems(_run(0, silent)) == []
    assert run_problems(_run(3, failed)) == []
    assert run_problems(_run(3, "", "error: list API tokens: got HTTP 500\n")) == []
    assert run_problems(_run(3, silent)) == [
        (
            "(d) rotation rotate --json: exit 3 without a reason, expected a stderr line or a failed row with a reason "
            "in the --json output"
        )
    ]
    assert run_problems(_run(5, silent, "oops\n"))[0].startswith("(d) rotation rotate --json: exit code 5")
    traceback = "Traceback (most recent call last):\n  File ...\nKeyError: 'x'\n"
    assert run_problems(_run(1, "", traceback)) == [
        (
            "(d) rotation rotate --json: ended with an uncaught traceback (exit 1: KeyError: 'x'), expected a "
            "documented exit code with a one-line reason"
        )
    ]
