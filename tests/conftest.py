"""Session fixtures shared by every test: the sandbox CA, the JWT authority, the managed-identity
endpoint, and the spec-conformance check applied to every emulator response of every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from emulators.azurite import AzuriteEndpoints, run_azurite
from emulators.conformance import IOTCENTRAL_SPEC, KEYVAULT_SPEC, SpecConformance
from emulators.core import EmulatorApp, SandboxAuthority, SandboxCA
from emulators.identity import IdentityEmulator, ManagedIdentity
from emulators.sandbox import RunningWorld, running_world


@pytest.fixture(scope="session", autouse=True)
def _private_state_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Local lock files go to the per-user state folder (`ROTATION_STATE_DIR`'s default): point it, for this
    process and the CLI subprocesses it starts, at a folder of the test session instead of the user's home."""
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if before is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = before


@pytest.fixture(scope="session")
def sandbox_ca() -> Iterator[SandboxCA]:
    ca = SandboxCA()
    yield ca
    ca.cleanup()


@pytest.fixture(scope="session")
def authority() -> SandboxAuthority:
    return SandboxAuthority()


@pytest.fixture(scope="session")
def conformance() -> dict[str, SpecConformance]:
    return {"iotcentral": SpecConformance(IOTCENTRAL_SPEC), "keyvault": SpecConformance(KEYVAULT_SPEC)}


@pytest.fixture(autouse=True)
def _responses_conform_to_specs(conformance: dict[str, SpecConformance]) -> Iterator[None]:
    """Every emulator response seen during a test must match the official OpenAPI definition."""
    yield
    violations = [str(v) for checker in conformance.values() for v in checker.take_violations()]
    assert not violations, "emulator responses that break the spec:\n" + "\n".join(violations)


def attach_conformance(emulator: EmulatorApp, conformance: dict[str, SpecConformance]) -> None:
    """Route the emulator's responses to the checker of its spec (by emulator name)."""
    checker = conformance.get(emulator.name)
    if checker is not None:
        emulator.observers.append(checker.observe)


@dataclass
class IdentityEndpoint:
    emulator: IdentityEmulator
    endpoint: str

    @property
    def system(self) -> ManagedIdentity:
        return self.emulator.system


@pytest.fixture(scope="session")
def identity_endpoint(authority: SandboxAuthority) -> Iterator[IdentityEndpoint]:
    emulator = IdentityEmulator(authority, system=ManagedIdentity("rotation-service"))
    with emulator.serve() as endpoint:
        yield IdentityEndpoint(emulator, endpoint)


@pytest.fixture
def managed_identity_env(identity_endpoint: IdentityEndpoint, monkeypatch: pytest.MonkeyPatch) -> ManagedIdentity:
    """Points `ManagedIdentityCredential` at the emulator (as App Service sets these variables)."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity_endpoint.endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", identity_endpoint.emulator.header_secret)
    return identity_endpoint.system


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    conformance: dict[str, SpecConformance],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RunningWorld]:
    """A fresh sample world (every emulator, seeded) per test; the real managed-identity env points at it.

    New tokens are accepted at once (`without_propagation_delay`) unless the test is marked
    `propagation`: the CLI and `run_job` wait on the real clock, so the emulator's realistic 1.25 s delay
    would add ~1.75 s of sleeping per minted token to every test. The delay itself is proved by the tests
    that set it (test_verify_budget, test_cli_doctor, the emulator's own tests) and by `make sandbox`."""
    with running_world(tmp_path_factory.mktemp("world")) as running:
        if request.node.get_closest_marker("propagation") is None:
            without_propagation_delay(running)
        attach_conformance(running.world.iotcentral, conformance)
        attach_conformance(running.world.vault, conformance)
        monkeypatch.setenv("IDENTITY_ENDPOINT", running.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", running.world.identity.header_secret)
        yield running


def without_propagation_delay(running: RunningWorld) -> None:
    running.world.iotcentral.propagation_delay = timedelta(0)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteEndpoints]:
    """The project-local Azurite on loopback, one for the session (a Node process takes about a second to
    come up), isolated per test by unique container and queue names; fails with the install hint if Node
    or Azurite is missing."""
    with run_azurite(tmp_path_factory.mktemp("azurite")) as endpoints:
        yield endpoints
