"""A fresh Runtime called from many threads at once (the jobs' pools: `max_concurrency` apps x their reads)
builds each client once and asks once: one identity token per scope, one Key Vault challenge per vault,
the same client object for every thread; and the SDK's connection pool holds the job's threads.

Counted at the emulators (the identity emulator's tokens per resource, the vault's 401 answers), through
the real `ManagedIdentityCredential` and `SecretClient`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from emulators.core import Fault
from emulators.sandbox import RunningWorld
from rotation.adapters.iotcentral import SCOPE as IOTCENTRAL_SCOPE
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

THREADS = 16
VAULT_RESOURCE = "https://vault.azure.net"
T = TypeVar("T")


@pytest.fixture
def runtime(world: RunningWorld) -> Iterator[Runtime]:
    """A Runtime as a cold process has it: nothing built, and no challenge in the SDK's process-wide cache
    (a vault port of an earlier test may have been reused)."""
    http_challenge_cache.clear()
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path), "ROTATION_MAX_CONCURRENCY": "8"})
    built = Runtime(settings, sample_specs(world))
    yield built
    built.close()


def at_once(call: Callable[[int], T], threads: int = THREADS) -> list[T]:
    """`call(i)` from `threads` threads released together by a barrier."""
    barrier = threading.Barrier(threads)

    def run(i: int) -> T:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(threads)))


def challenges(world: RunningWorld) -> int:
    return sum(by.get("401", 0) for by in world.world.vault.counters.snapshot().values())


def secret_name(world: RunningWorld) -> str:
    return sample_specs(world)[0].slots[0].secret


def test_many_threads_share_one_vault_client_one_token_one_challenge(world: RunningWorld, runtime: Runtime) -> None:
    name = secret_name(world)

    def read(_: int) -> Any:
        vault = runtime.vault(world.vault_url)
        vault.list_versions(name)
        return vault

    vaults = at_once(read)
    assert len({id(v) for v in vaults}) == 1
    assert world.world.identity.issued() == {VAULT_RESOURCE: 1}
    assert challenges(world) == 1
    assert world.world.vault.counters.get("GetSecretVersions", 200) == THREADS


def test_one_identity_token_per_scope_across_clients(world: RunningWorld, runtime: Runtime) -> None:
    name = secret_name(world)

    def call(i: int) -> object:
        if i % 2:
            return runtime.identity_token()
        runtime.vault(world.vault_url).list_versions(name)
        return runtime.credential_object()

    at_once(call)
    resource = IOTCENTRAL_SCOPE.removesuffix("/.default")
    assert world.world.identity.issued() == {VAULT_RESOURCE: 1, resource: 1}
    assert challenges(world) == 1


def test_the_credential_and_http_client_are_built_once(runtime: Runtime) -> None:
    built = at_once(lambda _: (runtime.credential_object(), runtime.http()))
    assert len({id(c) for c, _ in built}) == 1
    assert len({id(h) for _, h in built}) == 1


def test_the_vault_connection_pool_holds_the_jobs_threads(
    world: RunningWorld, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """32 threads (concurrency 8 x 4) on one SecretClient: requests' default pool keeps 10 connections
    and discards the rest after each request (a new TLS handshake next time)."""
    name = secret_name(world)
    threads = runtime.settings.max_concurrency * 4
    world.world.vault.faults.add(Fault("latency", route="GetSecretVersions", latency=0.05, times=threads * 2))
    vault = runtime.vault(world.vault_url)
    vault.list_versions(name)  # the challenge, out of the way
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        at_once(lambda _: [vault.list_versions(name) for _ in range(2)], threads)
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
    assert world.world.vault.connections.count <= threads + 1
