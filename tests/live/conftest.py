"""The live conformance suite's fixtures: the real app and vault named by `ROTATION_LIVE_APP` (the app's base
URL, https://<subdomain>.azureiotcentral.com) and `ROTATION_LIVE_VAULT` (https://<name>.vault.azure.net),
reached with the developer's DefaultAzureCredential (az login). Without both variables every test here is
collected and skipped with the reason (CI). Whatever a test makes carries the `live-` prefix and is removed in
the fixture's `finally`, also when the test failed half way."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.exceptions import AzureError
from azure.keyvault.secrets import SecretClient

from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.errors import RotationError
from tests.live.bodies import Names

APP, VAULT = "ROTATION_LIVE_APP", "ROTATION_LIVE_VAULT"
SKIP_REASON = (
    f"live conformance suite: set {APP} (IoT Central app URL) and {VAULT} (vault URL), sign in with "
    "`az login`, then `make live-test`"
)


@pytest.fixture(scope="session")
def live_settings() -> tuple[str, str]:
    app, vault = os.environ.get(APP, ""), os.environ.get(VAULT, "")
    if not (app and vault):
        pytest.skip(SKIP_REASON)
    return app, vault


@pytest.fixture(scope="session")
def live_credential(live_settings: tuple[str, str]) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


@pytest.fixture
def live_iotcentral(live_settings: tuple[str, str], live_credential: Any) -> Iterator[IoTCentralClient]:
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=30) as http:
        yield IoTCentralClient(live_settings[0], http, credential=live_credential)


@pytest.fixture
def live_tokens(live_iotcentral: IoTCentralClient) -> Iterator[Names]:
    names = Names("live")
    try:
        yield names
    finally:
        for token_id in names.made:
            try:
                live_iotcentral.delete_token(token_id)  # our own throwaway id: nothing else has it
            except RotationError as exc:
                print(f"could not delete live token {token_id}: {exc}")


@pytest.fixture
def live_secret_client(live_settings: tuple[str, str], live_credential: Any) -> Iterator[SecretClient]:
    client = build_secret_client(live_settings[1], live_credential, timeout=30)
    yield client
    client.close()


@pytest.fixture
def live_vault(live_secret_client: SecretClient) -> KeyVaultSecrets:
    return KeyVaultSecrets(live_secret_client)


@pytest.fixture
def live_secrets(live_secret_client: SecretClient) -> Iterator[Names]:
    names = Names("live")
    try:
        yield names
    finally:
        for name in names.made:
            remove_secret(live_secret_client, name)


def remove_secret(client: SecretClient, name: str) -> None:
    """Delete (unless already deleted), then purge when the vault allows it; never raises."""
    with contextlib.suppress(AzureError):  # never made, or already deleted
        client.begin_delete_secret(name).result()
    try:
        client.purge_deleted_secret(name)
    except AzureError as exc:
        print(f"could not purge live secret {name}: {type(exc).__name__}")
