"""Who may talk to the emulated vault and what the real sync `SecretClient` does when it must not: the
bearer challenge with foreign or expired tokens (401), Azure RBAC by role (403 ForbiddenByRbac), the
SDK's retries on throttling and 5xx, and the api-versions it sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from werkzeug.wrappers import Request, Response

from emulators.conformance import SpecConformance
from emulators.core import Fault, SandboxAuthority, SandboxCA
from emulators.identity import ManagedIdentity
from emulators.keyvault import API_VERSIONS
from tests.conftest import IdentityEndpoint
from tests.integration.keyvault_support import Vault, running_vault


@pytest.fixture
def vault(
    authority: SandboxAuthority,
    sandbox_ca: SandboxCA,
    conformance: dict[str, SpecConformance],
    managed_identity_env: ManagedIdentity,
) -> Iterator[Vault]:
    with running_vault(authority, sandbox_ca, conformance, managed_identity_env, page_size=2) as running:
        yield running


@pytest.fixture
def client(vault: Vault) -> Iterator[SecretClient]:
    with vault.client() as secret_client:
        yield secret_client


def test_secrets_user_reads_but_cannot_write(vault: Vault, identity_endpoint: IdentityEndpoint) -> None:
    reader = identity_endpoint.emulator.add_user_assigned(ManagedIdentity("consumer"))
    vault.emulator.grant(reader.object_id, "user")
    vault.emulator.seed_secret("slot", "value")

    with vault.client(ManagedIdentityCredential(client_id=reader.client_id)) as client:
        assert client.get_secret("slot").value == "value"
        assert [p.name for p in client.list_properties_of_secrets()] == ["slot"]
        writes = (
            lambda: client.set_secret("slot", "x"),
            lambda: client.begin_delete_secret("slot"),
            lambda: client.update_secret_properties("slot", enabled=False),
        )
        for write in writes:
            with pytest.raises(HttpResponseError) as caught:
                write()
            assert caught.value.status_code == 403
            assert caught.value.error is not None
            assert caught.value.error.innererror == {"code": "ForbiddenByRbac"}
            assert reader.object_id in (caught.value.error.message or "")
    assert [v.value for v in vault.emulator.versions("slot")] == ["value"]


def test_an_identity_without_a_role_is_forbidden(vault: Vault, identity_endpoint: IdentityEndpoint) -> None:
    stranger = identity_endpoint.emulator.add_user_assigned(ManagedIdentity("stranger"))
    vault.emulator.seed_secret("slot", "value")
    with vault.client(ManagedIdentityCredential(client_id=stranger.client_id)) as client:
        with pytest.raises(HttpResponseError) as caught:
            client.get_secret("slot")
        assert caught.value.status_code == 403
        assert caught.value.error is not None
        assert caught.value.error.code == "Forbidden"
        assert "Assignment: (not found)" in (caught.value.error.message or "")
        with pytest.raises(HttpResponseError, match="ForbiddenByRbac"):
            list(client.list_properties_of_secrets())


class ForeignCredential:
    """A credential whose tokens are signed by another authority: well-formed, never valid here."""

    def __init__(self, identity: ManagedIdentity) -> None:
        self.identity = identity
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        token, _ = SandboxAuthority().issue(
            audience="https://vault.azure.net",
            oid=self.identity.object_id,
            tid=self.identity.tenant_id,
            appid=self.identity.client_id,
            now=datetime.now(UTC),
        )
        return AccessToken(token, int(datetime.now(UTC).timestamp()) + 3600)


def test_a_token_from_another_authority_is_401(vault: Vault, managed_identity_env: ManagedIdentity) -> None:
    credential = ForeignCredential(managed_identity_env)
    with vault.client(credential) as client, pytest.raises(ClientAuthenticationError, match="AKV10022"):
        client.get_secret("slot")
    assert credential.calls >= 1
    assert vault.emulator.counters.get("GetSecret", 401) >= 2  # the challenge, then the rejected token


def test_an_expired_token_is_401_once_the_clock_moves(vault: Vault, client: SecretClient) -> None:
    client.set_secret("slot", "value")
    vault.emulator.clock.advance(timedelta(hours=3))
    with pytest.raises(ClientAuthenticationError, match="expired"):
        client.get_secret("slot")


def test_throttling_is_retried_after_retry_after(vault: Vault, client: SecretClient) -> None:
    vault.emulator.seed_secret("slot", "value")
    client.get_secret("slot")  # the challenge is done: the next request is the throttled one
    vault.emulator.faults.add(Fault("throttle", route="GetSecret", times=1, retry_after=1))

    assert client.get_secret("slot").value == "value"
    assert vault.emulator.counters.get("GetSecret", 429) == 1
    assert vault.emulator.counters.get("GetSecret", 200) == 2


def test_a_transient_5xx_is_retried_and_a_lasting_one_surfaces(vault: Vault) -> None:
    vault.emulator.faults.add(Fault("error", route="SetSecret", status=503, times=1))
    with vault.client() as client:
        assert client.set_secret("slot", "value").value == "value"
    assert vault.emulator.counters.get("SetSecret", 503) == 1
    assert vault.emulator.counters.get("SetSecret", 200) == 1

    vault.emulator.faults.add(Fault("error", route="GetSecret", status=500))
    with vault.client(retry_total=0) as client, pytest.raises(HttpResponseError) as caught:
        client.get_secret("slot")
    assert caught.value.status_code == 500
    assert caught.value.error is not None
    assert caught.value.error.code == "InternalServerError"


def test_the_sdk_default_and_7x_api_versions_are_accepted(vault: Vault) -> None:
    sent: list[str] = []

    def record(emulator: str, route: str, request: Request, response: Response) -> None:
        sent.append(request.args.get("api-version", ""))

    vault.emulator.observers.append(record)
    with vault.client() as client:
        client.set_secret("slot", "default")
    with vault.client(api_version="7.6") as client:
        assert client.get_secret("slot").value == "default"
    with vault.client(api_version="7.0") as client:
        assert client.get_secret("slot").value == "default"
    assert {"7.6", "7.0"} < set(sent)
    assert set(sent) <= API_VERSIONS
