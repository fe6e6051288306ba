"""The Key Vault adapter through the real SecretClient against the emulator."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from azure.identity import ManagedIdentityCredential

from emulators.core import Fault
from emulators.sandbox import RunningWorld
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.domain.secret import Secret
from rotation.errors import AuthError, IncompleteListingError, ValidationError
from tests.live import bodies
from tests.live.bodies import Names


@pytest.fixture
def vault(world: RunningWorld) -> KeyVaultSecrets:
    return KeyVaultSecrets(
        build_secret_client(world.vault_url, ManagedIdentityCredential(), ca_bundle=str(world.ca.pem_path))
    )


def test_versions_are_listed_oldest_first_with_tags(vault: KeyVaultSecrets) -> None:
    versions = vault.list_versions("iotc-contoso-fleet-dashboard-reader")
    assert [v.tags["stage"] for v in versions] == ["previous", "current"]
    assert versions[0].created_on < versions[1].created_on
    assert vault.list_versions("no-such-secret") == []


def test_set_get_update_round_trip(world: RunningWorld, vault: KeyVaultSecrets) -> None:
    expires = world.world.clock.now() + timedelta(days=3)
    version = vault.set_value(
        "iotc-test-slot",
        Secret("canary-value"),
        tags={"stage": "pending"},
        expires_on=expires,
        content_type="application/vnd.iotcentral.apitoken",
    )
    assert vault.get_value("iotc-test-slot", version.version).reveal() == "canary-value"
    updated = vault.update("iotc-test-slot", version.version, tags={"stage": "abandoned"}, enabled=False)
    assert updated.tags == {"stage": "abandoned"}
    assert updated.enabled is False
    with pytest.raises(AuthError, match="403"):
        vault.get_value("iotc-test-slot", version.version)


def test_a_failing_listing_is_incomplete_not_empty(world: RunningWorld, vault: KeyVaultSecrets) -> None:
    world.world.vault.faults.add(Fault("error", route="GetSecretVersions", status=500))
    with pytest.raises(IncompleteListingError):
        vault.list_versions("iotc-contoso-fleet-auditor")


def test_a_reader_cannot_write(world: RunningWorld, vault: KeyVaultSecrets) -> None:
    world.world.vault.revoke(world.world.service.object_id)
    world.world.vault.grant(world.world.service.object_id, "user")
    with pytest.raises(AuthError, match="403"):
        vault.set_value("iotc-x", Secret("v"), tags={}, expires_on=None, content_type="text/plain")


def test_vault_urls_must_be_https_except_loopback() -> None:
    with pytest.raises(ValidationError, match="https"):
        build_secret_client("http://kv-contoso.vault.azure.net", ManagedIdentityCredential())


def test_an_sdk_retry_logs_one_retry_line(
    world: RunningWorld, vault: KeyVaultSecrets, caplog: pytest.LogCaptureFixture
) -> None:
    """azure-core retries inside its pipeline; RetryLogPolicy makes each of those retries one line, as ours."""
    world.world.vault.faults.add(Fault("error", route="GetSecretVersions", status=503, times=1))
    with caplog.at_level(logging.INFO, logger="rotation.http"):
        assert vault.list_versions("iotc-contoso-fleet-dashboard-reader")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry ")]
    assert lines == [f"retry what=vault {world.vault_url.rstrip('/')} attempt=1 status=503 delay=sdk"]


# -- contract bodies shared with the live suite (tests/live/bodies.py) --------------------------------------
def test_contract_secret_versions_with_tags(vault: KeyVaultSecrets) -> None:
    bodies.secret_versions_with_tags(vault, Names("contract"))


def test_contract_tags_update_and_disable(vault: KeyVaultSecrets) -> None:
    bodies.tags_update_and_disable(vault, Names("contract"))


def test_contract_an_unknown_secret_has_no_versions(vault: KeyVaultSecrets) -> None:
    bodies.an_unknown_secret_has_no_versions(vault, Names("contract"))


def test_contract_a_soft_deleted_name_cannot_be_reused(world: RunningWorld) -> None:
    client = build_secret_client(world.vault_url, ManagedIdentityCredential(), ca_bundle=str(world.ca.pem_path))
    bodies.a_soft_deleted_name_cannot_be_reused(client, Names("contract"))
