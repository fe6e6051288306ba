"""The live conformance suite: the same contract bodies as the emulator-backed adapter tests
(tests/integration/test_adapter_iotcentral.py, test_adapter_keyvault.py), against a real app and vault.
Skipped unless ROTATION_LIVE_APP and ROTATION_LIVE_VAULT are set (`make live-test`, docs/deploy.md)."""

from __future__ import annotations

from azure.keyvault.secrets import SecretClient

from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.keyvault import KeyVaultSecrets
from tests.live import bodies
from tests.live.bodies import Names


def test_create_list_delete_token(live_iotcentral: IoTCentralClient, live_tokens: Names) -> None:
    bodies.create_list_delete_token(live_iotcentral, live_tokens)


def test_deleting_an_unknown_token_is_false(live_iotcentral: IoTCentralClient, live_tokens: Names) -> None:
    bodies.deleting_an_unknown_token_is_false(live_iotcentral, live_tokens)


def test_listing_is_complete_across_pages(live_iotcentral: IoTCentralClient, live_tokens: Names) -> None:
    bodies.listing_is_complete_across_pages(live_iotcentral, live_tokens)


def test_built_in_roles_are_listed(live_iotcentral: IoTCentralClient) -> None:
    bodies.built_in_roles_are_listed(live_iotcentral)


def test_secret_versions_with_tags(live_vault: KeyVaultSecrets, live_secrets: Names) -> None:
    bodies.secret_versions_with_tags(live_vault, live_secrets)


def test_tags_update_and_disable(live_vault: KeyVaultSecrets, live_secrets: Names) -> None:
    bodies.tags_update_and_disable(live_vault, live_secrets)


def test_an_unknown_secret_has_no_versions(live_vault: KeyVaultSecrets, live_secrets: Names) -> None:
    bodies.an_unknown_secret_has_no_versions(live_vault, live_secrets)


def test_a_soft_deleted_name_cannot_be_reused(live_secret_client: SecretClient, live_secrets: Names) -> None:
    bodies.a_soft_deleted_name_cannot_be_reused(live_secret_client, live_secrets)
