"""The fault matrix: every API request of a clean `rotation rotate` and `rotation revoke` (counted from a
clean run, in order, across the identity endpoint, IoT Central and Key Vault), each with every fault of
`tap.FAULTS` (429 + Retry-After, 500, 503, a timeout, a connection dropped before or after the server
applied the request, a SIGKILL of the CLI process just before or just after the server applied it). After
each case the world is converged and invariants (a)-(d) of `invariants` are asserted; a failure names
the job, the request's index, the call and the fault, then lists every broken invariant."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulators.core import SandboxCA
from tests.reliability.runs import ForkServer
from tests.reliability.scenario import Case, cases, clean_calls, run_case
from tests.reliability.tap import FAULTS
from tests.reliability.world import fault_world

pytestmark = pytest.mark.reliability
MIN_CASES = 200


def _cases() -> list[Case]:
    """At collection; a clean run that fails leaves the matrix empty and the next test says why, rather
    than a collection error stopping every other test of the session."""
    try:
        return cases(FAULTS)
    except RuntimeError:
        return []


CASES = _cases()


def test_the_matrix_covers_every_call_of_both_jobs() -> None:
    rotate, revoke = ({c.label() for c in clean_calls(job)} for job in ("rotate", "revoke"))
    assert "iotcentral.Roles_List.GET" not in rotate | revoke  # built-in roles only: nothing to resolve
    assert {
        "identity.msi.token.GET",
        "iotcentral.ApiTokens_List.GET",
        "keyvault.GetSecretVersions.GET",
        "iotcentral.ApiTokens_Create.PUT",
        "keyvault.SetSecret.PUT",
        "iotcentral.Devices_List.GET",
        "keyvault.UpdateSecret.PATCH",
    } <= rotate
    assert {"iotcentral.ApiTokens_Remove.DELETE", "keyvault.UpdateSecret.PATCH"} <= revoke
    assert len(CASES) == len(FAULTS) * (len(clean_calls("rotate")) + len(clean_calls("revoke")))
    assert len(CASES) >= MIN_CASES, f"got {len(CASES)} cases, expected at least {MIN_CASES}"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault_then_convergence(case: Case, forks: ForkServer, reliability_ca: SandboxCA, tmp_path: Path) -> None:
    with fault_world(tmp_path, reliability_ca, due=case.due) as world:
        problems = run_case(case, world, forks, tmp_path)
    assert not problems, f"{case.id}:\n" + "\n".join(problems)
