"""Fixtures for tests that need real backing services: one Azurite for the whole session.

Azurite is started once (a Node process takes about a second to come up) and isolated per test by
unique container and queue names, not by restarting it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.azurite import AzuriteEndpoints, run_azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteEndpoints]:
    """The project-local Azurite on loopback; fails with the install hint if Node or Azurite is missing."""
    with run_azurite(tmp_path_factory.mktemp("azurite")) as endpoints:
        yield endpoints
