"""The real sync `SecretClient` (requests transport) with the real `ManagedIdentityCredential` against the
Key Vault emulator, unchanged: every secrets operation the rotation service relies on, soft delete and its
409, and the service's limits. Every response is validated against the 7.6 spec."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from emulators.conformance import SpecConformance
from emulators.core import SandboxAuthority, SandboxCA
from emulators.identity import ManagedIdentity
from tests.integration.keyvault_support import NOW, Vault, running_vault


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


def test_set_then_get_latest_and_a_given_version(vault: Vault, client: SecretClient) -> None:
    expiry = NOW + timedelta(days=30)
    first = client.set_secret(
        "iotc-app-slot",
        "token-1",
        tags={"stage": "current"},
        expires_on=expiry,
        content_type="application/vnd.iotcentral.apitoken",
    )
    second = client.set_secret("iotc-app-slot", "token-2")

    assert first.id == f"{vault.url}/secrets/iotc-app-slot/{first.properties.version}"
    assert len(first.properties.version or "") == 32
    assert int(first.properties.version or "", 16) >= 0
    assert first.properties.created_on == NOW
    assert first.properties.expires_on == expiry
    assert first.properties.recoverable_days == 90
    assert first.properties.recovery_level == "Recoverable+Purgeable"
    latest = client.get_secret("iotc-app-slot")
    assert (latest.value, latest.properties.version) == ("token-2", second.properties.version)
    older = client.get_secret("iotc-app-slot", first.properties.version)
    assert older.value == "token-1"
    assert older.properties.tags == {"stage": "current"}
    assert older.properties.content_type == "application/vnd.iotcentral.apitoken"
    assert [v.value for v in vault.emulator.versions("iotc-app-slot")] == ["token-1", "token-2"]


def test_listing_secrets_follows_next_links_and_carries_no_values(vault: Vault, client: SecretClient) -> None:
    for name in ("e", "b", "a", "d", "c"):
        vault.emulator.seed_secret(name, f"value-{name}", tags={"n": name})
    vault.emulator.seed_secret("a", "newer", tags={"n": "a2"})

    listed = list(client.list_properties_of_secrets())

    assert [p.name for p in listed] == ["a", "b", "c", "d", "e"]
    assert listed[0].tags == {"n": "a2"}  # the current version's properties
    assert all(p.version is None for p in listed)
    assert vault.emulator.counters.get("GetSecrets", 200) == 3  # page_size=2 -> 2 + 2 + 1
    assert len(list(client.list_properties_of_secrets(max_page_size=5))) == 5
    assert vault.emulator.counters.get("GetSecrets", 200) == 4


def test_listing_versions_pages_through_every_version(vault: Vault, client: SecretClient) -> None:
    made = [client.set_secret("slot", f"v{i}").properties.version for i in range(5)]

    listed = [p.version for p in client.list_properties_of_secret_versions("slot")]

    assert sorted(map(str, listed)) == sorted(map(str, made))
    assert vault.emulator.counters.get("GetSecretVersions", 200) == 3


def test_update_properties_of_a_version_and_of_the_latest(vault: Vault, client: SecretClient) -> None:
    old = client.set_secret("slot", "old", tags={"stage": "current"}).properties.version
    client.set_secret("slot", "new", tags={"stage": "current"})
    vault.emulator.clock.advance(timedelta(hours=1))
    new_expiry = NOW + timedelta(days=7)

    updated = client.update_secret_properties(
        "slot", old, enabled=False, expires_on=new_expiry, tags={"stage": "revoked"}, content_type="text/plain"
    )
    latest = client.update_secret_properties("slot", tags={"stage": "current", "superseded-at": "never"})

    assert updated.enabled is False
    assert updated.updated_on == NOW + timedelta(hours=1)
    assert updated.created_on == NOW
    seen = {v.value: v for v in vault.emulator.versions("slot")}
    assert seen["old"].enabled is False
    assert seen["old"].expires_on == new_expiry
    assert seen["old"].tags == {"stage": "revoked"}  # tags are replaced, not merged
    assert seen["old"].content_type == "text/plain"
    assert latest.tags == {"stage": "current", "superseded-at": "never"}
    assert seen["new"].tags == latest.tags


def test_a_disabled_version_answers_403_secret_disabled(vault: Vault, client: SecretClient) -> None:
    version = vault.emulator.seed_secret("slot", "value", enabled=False)

    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("slot", version)

    assert caught.value.status_code == 403
    assert caught.value.error is not None
    assert caught.value.error.code == "Forbidden"
    assert caught.value.error.innererror == {"code": "SecretDisabled"}
    assert next(iter(client.list_properties_of_secrets())).enabled is False  # still listed


def test_delete_get_deleted_recover_and_purge(vault: Vault, client: SecretClient) -> None:
    client.set_secret("slot", "value", tags={"stage": "current"})

    poller = client.begin_delete_secret("slot")
    poller.wait()
    deleted = poller.result()
    assert poller.done()
    assert deleted.recovery_id == f"{vault.url}/deletedsecrets/slot"
    assert deleted.deleted_date == NOW
    assert deleted.scheduled_purge_date == NOW + timedelta(days=90)
    assert client.get_deleted_secret("slot").properties.tags == {"stage": "current"}
    assert [d.name for d in client.list_deleted_secrets()] == ["slot"]
    assert vault.emulator.is_deleted("slot")
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("slot")
    with pytest.raises(ResourceExistsError, match="deleted but recoverable state"):
        client.set_secret("slot", "again")

    recover = client.begin_recover_deleted_secret("slot")
    recover.wait()
    assert recover.result().name == "slot"
    assert client.get_secret("slot").value == "value"
    assert not vault.emulator.is_deleted("slot")

    client.begin_delete_secret("slot").wait()
    client.purge_deleted_secret("slot")
    assert not vault.emulator.is_deleted("slot")
    assert list(client.list_deleted_secrets()) == []
    assert client.set_secret("slot", "fresh").value == "fresh"  # the name is free again
    assert vault.emulator.counters.get("PurgeDeletedSecret", 204) == 1


def test_purge_protection_refuses_purges(vault: Vault, client: SecretClient) -> None:
    vault.emulator.purge_protection = True
    client.set_secret("slot", "value")
    client.begin_delete_secret("slot").wait()

    with pytest.raises(HttpResponseError) as caught:
        client.purge_deleted_secret("slot")

    assert caught.value.status_code == 403
    assert vault.emulator.is_deleted("slot")
    assert client.get_deleted_secret("slot").properties.recovery_level == "Recoverable"


def test_unknown_secrets_and_versions_are_404_secret_not_found(client: SecretClient) -> None:
    client.set_secret("known", "value")
    for call in (
        lambda: client.get_secret("missing"),
        lambda: client.get_secret("known", "0" * 32),
        lambda: client.begin_delete_secret("missing"),
        lambda: client.get_deleted_secret("known"),
        lambda: client.update_secret_properties("missing", enabled=False),
        lambda: client.begin_recover_deleted_secret("missing"),
    ):
        with pytest.raises(ResourceNotFoundError) as caught:
            call()
        assert caught.value.error is not None
        assert caught.value.error.code == "SecretNotFound"


@pytest.mark.parametrize(
    ("name", "value", "tags"),
    [
        ("bad_name", "v", None),
        ("x" * 128, "v", None),
        ("slot", "x" * 25_601, None),
        ("slot", "é" * 12_801, None),  # 25,602 bytes in UTF-8
        ("slot", "v", {f"t{i}": "v" for i in range(16)}),
        ("slot", "v", {"t" * 513: "v"}),
        ("slot", "v", {"t": "v" * 257}),
    ],
)
def test_limits_are_400_bad_parameter(client: SecretClient, name: str, value: str, tags: dict[str, str] | None) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.set_secret(name, value, tags=tags)
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "BadParameter"


def test_values_and_tags_at_the_limits_are_accepted(vault: Vault, client: SecretClient) -> None:
    tags = {f"t{i:03d}" + "x" * 508: "v" * 256 for i in range(15)}
    client.set_secret("x" * 127, "x" * 25_600, tags=tags)
    assert vault.emulator.versions("x" * 127)[0].tags == tags
