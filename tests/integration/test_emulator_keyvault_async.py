"""The real aio `SecretClient` (aiohttp transport) with the aio `ManagedIdentityCredential` against the Key
Vault emulator: the same protocol through the other transport, including its own pollers and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity.aio import ManagedIdentityCredential
from azure.keyvault.secrets.aio import SecretClient

from emulators.conformance import SpecConformance
from emulators.core import Clock, Fault, SandboxAuthority, SandboxCA
from emulators.identity import ManagedIdentity
from emulators.keyvault import KeyVaultEmulator
from tests.conftest import IdentityEndpoint, attach_conformance
from tests.integration.keyvault_support import NOW

# Async fixtures live on the session loop (asyncio_default_fixture_loop_scope); the tests must share it.
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def emulator(
    authority: SandboxAuthority, conformance: dict[str, SpecConformance], managed_identity_env: ManagedIdentity
) -> KeyVaultEmulator:
    vault = KeyVaultEmulator(
        authority, tenant_id=managed_identity_env.tenant_id, clock=Clock(frozen_at=NOW), page_size=2
    )
    attach_conformance(vault, conformance)
    vault.grant(managed_identity_env.object_id, "officer")
    return vault


@pytest.fixture
def vault_url(emulator: KeyVaultEmulator, sandbox_ca: SandboxCA) -> Iterator[str]:
    with emulator.serve(sandbox_ca) as url:
        yield url


def _client(vault_url: str, ca: SandboxCA, credential: ManagedIdentityCredential) -> SecretClient:
    return SecretClient(vault_url, credential, verify_challenge_resource=False, connection_verify=str(ca.pem_path))


@pytest.fixture
async def client(vault_url: str, sandbox_ca: SandboxCA) -> AsyncIterator[SecretClient]:
    async with ManagedIdentityCredential() as credential, _client(vault_url, sandbox_ca, credential) as secrets:
        yield secrets


async def test_async_round_trip_of_every_operation(
    emulator: KeyVaultEmulator, client: SecretClient, vault_url: str
) -> None:
    first = await client.set_secret("slot", "token-1", tags={"stage": "current"}, content_type="text/plain")
    await client.set_secret("slot", "token-2", expires_on=NOW + timedelta(days=30))
    await client.set_secret("other", "x")
    await client.set_secret("third", "y")

    assert (await client.get_secret("slot")).value == "token-2"
    assert (await client.get_secret("slot", first.properties.version)).value == "token-1"
    assert [p.name async for p in client.list_properties_of_secrets()] == ["other", "slot", "third"]
    assert emulator.counters.get("GetSecrets", 200) == 2  # paged by 2
    versions = [p.version async for p in client.list_properties_of_secret_versions("slot")]
    assert sorted(map(str, versions)) == sorted(v.version for v in emulator.versions("slot"))

    updated = await client.update_secret_properties(
        "slot", first.properties.version, enabled=False, tags={"stage": "previous"}
    )
    assert updated.enabled is False
    assert emulator.versions("slot")[0].tags == {"stage": "previous"}
    with pytest.raises(HttpResponseError) as caught:
        await client.get_secret("slot", first.properties.version)
    assert caught.value.status_code == 403

    deleted = await client.delete_secret("slot")  # the aio client awaits its poller
    assert deleted.recovery_id == f"{vault_url}/deletedsecrets/slot"
    assert (await client.get_deleted_secret("slot")).scheduled_purge_date == NOW + timedelta(days=90)
    assert [d.name async for d in client.list_deleted_secrets()] == ["slot"]
    with pytest.raises(ResourceExistsError, match="deleted but recoverable"):
        await client.set_secret("slot", "again")

    recovered = await client.recover_deleted_secret("slot")
    assert recovered.name == "slot"
    assert (await client.get_secret("slot")).value == "token-2"

    await client.delete_secret("other")
    await client.purge_deleted_secret("other")
    assert not emulator.is_deleted("other")
    with pytest.raises(ResourceNotFoundError):
        await client.get_secret("other")


async def test_async_throttle_and_5xx_are_retried(emulator: KeyVaultEmulator, client: SecretClient) -> None:
    await client.set_secret("slot", "value")
    emulator.faults.add(Fault("throttle", route="GetSecret", times=1, retry_after=1))
    emulator.faults.add(Fault("error", route="GetSecrets", status=502, times=1))

    assert (await client.get_secret("slot")).value == "value"
    assert [p.name async for p in client.list_properties_of_secrets()] == ["slot"]
    assert emulator.counters.get("GetSecret", 429) == 1
    assert emulator.counters.get("GetSecret", 200) == 1
    assert emulator.counters.get("GetSecrets", 502) == 1
    assert emulator.counters.get("GetSecrets", 200) == 1


async def test_async_secrets_user_cannot_write(
    emulator: KeyVaultEmulator, vault_url: str, sandbox_ca: SandboxCA, identity_endpoint: IdentityEndpoint
) -> None:
    reader = identity_endpoint.emulator.add_user_assigned(ManagedIdentity("async-consumer"))
    emulator.grant(reader.object_id, "user")
    emulator.seed_secret("slot", "value")
    async with (
        ManagedIdentityCredential(client_id=reader.client_id) as credential,
        _client(vault_url, sandbox_ca, credential) as client,
    ):
        assert (await client.get_secret("slot")).value == "value"
        with pytest.raises(HttpResponseError) as caught:
            await client.set_secret("slot", "overwritten")
    assert caught.value.status_code == 403
    assert caught.value.error is not None
    assert caught.value.error.innererror == {"code": "ForbiddenByRbac"}
    assert [v.value for v in emulator.versions("slot")] == ["value"]
