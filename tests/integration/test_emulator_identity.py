"""The real `ManagedIdentityCredential` obtains sandbox JWTs from the identity emulator unchanged."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from azure.identity import ManagedIdentityCredential

from emulators.core import SandboxAuthority
from emulators.core.jwt_authority import TokenRejectedError
from emulators.identity import IdentityEmulator, ManagedIdentity
from tests.conftest import IdentityEndpoint

IOTC_SCOPE = "https://apps.azureiotcentral.com/.default"


def test_managed_identity_credential_gets_a_jwt_for_the_system_identity(
    managed_identity_env: ManagedIdentity, authority: SandboxAuthority, identity_endpoint: IdentityEndpoint
) -> None:
    token = ManagedIdentityCredential().get_token(IOTC_SCOPE)
    claims = authority.verify(
        token.token, audience="https://apps.azureiotcentral.com", now=identity_endpoint.emulator.clock.now()
    )
    assert claims.oid == managed_identity_env.object_id
    assert claims.tid == managed_identity_env.tenant_id


def test_user_assigned_identity_is_selected_by_client_id(
    managed_identity_env: ManagedIdentity, authority: SandboxAuthority, identity_endpoint: IdentityEndpoint
) -> None:
    user_assigned = identity_endpoint.emulator.add_user_assigned(ManagedIdentity("func-identity"))
    token = ManagedIdentityCredential(client_id=user_assigned.client_id).get_token("https://vault.azure.net/.default")
    claims = authority.verify(
        token.token, audience="https://vault.azure.net", now=identity_endpoint.emulator.clock.now()
    )
    assert claims.oid == user_assigned.object_id
    assert claims.appid == user_assigned.client_id


@pytest.mark.parametrize(
    ("params", "header", "status"),
    [
        ({"resource": "https://vault.azure.net", "api-version": "2019-08-01"}, "wrong", 401),
        ({"resource": "https://vault.azure.net", "api-version": "2017-09-01"}, None, 400),
        ({"api-version": "2019-08-01"}, None, 400),
        ({"resource": "https://vault.azure.net", "api-version": "2019-08-01", "client_id": "nope"}, None, 400),
    ],
)
def test_bad_token_requests_get_an_error_body(
    identity_endpoint: IdentityEndpoint, params: dict[str, str], header: str | None, status: int
) -> None:
    secret = header or identity_endpoint.emulator.header_secret
    response = httpx.get(identity_endpoint.endpoint, params=params, headers={"X-IDENTITY-HEADER": secret})
    assert response.status_code == status
    assert set(response.json()) == {"error", "error_description"}


def test_an_expired_token_is_rejected_after_the_clock_jumps(authority: SandboxAuthority) -> None:
    emulator = IdentityEmulator(authority)
    with emulator.serve() as endpoint:
        params = {"resource": "https://vault.azure.net", "api-version": "2019-08-01"}
        response = httpx.get(endpoint, params=params, headers={"X-IDENTITY-HEADER": emulator.header_secret})
    token = response.json()["access_token"]
    authority.verify(token, audience="https://vault.azure.net", now=emulator.clock.now())
    emulator.clock.advance(timedelta(hours=2))
    with pytest.raises(TokenRejectedError, match="expired"):
        authority.verify(token, audience="https://vault.azure.net", now=emulator.clock.now())
    earlier = emulator.clock.now() - timedelta(hours=2)
    with pytest.raises(TokenRejectedError, match="audience"):
        authority.verify(token, audience="https://apps.azureiotcentral.com", now=earlier)
