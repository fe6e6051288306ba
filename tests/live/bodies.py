"""Contract test bodies shared by the emulator-backed adapter tests (tests/integration/test_adapter_*.py) and
the live conformance suite (tests/live): ONE body per behaviour, so that the emulators are held to what the
real services do. A body takes an adapter and a `Names` that makes throwaway ids and remembers them, so the
caller's fixture can remove whatever a failed body left behind (`live-`/`contract-` prefixes, never a slot's).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.keyvault.secrets import SecretClient

from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.keyvault import KeyVaultSecrets
from rotation.domain.model import RoleAssignment
from rotation.domain.secret import Secret

OPERATOR = RoleAssignment("ae2c9854-393b-4f97-8c42-479d70ce626e")
CONTENT_TYPE = "text/plain"


@dataclass
class Names:
    prefix: str
    made: list[str] = field(default_factory=list)

    def new(self) -> str:
        name = f"{self.prefix}-{secrets.token_hex(4)}"
        self.made.append(name)
        return name


def _expiry(now: datetime | None = None) -> datetime:
    return ((now or datetime.now(UTC)) + timedelta(hours=2)).replace(microsecond=0)


# -- IoT Central ---------------------------------------------------------------------------------------
def create_list_delete_token(client: IoTCentralClient, names: Names, now: datetime | None = None) -> None:
    token_id = names.new()
    token, value = client.create_token(token_id, frozenset({OPERATOR}), _expiry(now))
    assert isinstance(value, Secret)
    assert token.id == token_id
    assert token.roles == frozenset({OPERATOR})
    listed = {t.id: t for t in client.list_tokens()}
    assert listed[token_id].roles == frozenset({OPERATOR})
    assert client.delete_token(token_id) is True
    assert token_id not in {t.id for t in client.list_tokens()}


def deleting_an_unknown_token_is_false(client: IoTCentralClient, names: Names) -> None:
    assert client.delete_token(names.new()) is False  # a 404, not an error


def listing_is_complete_across_pages(
    client: IoTCentralClient, names: Names, count: int = 3, now: datetime | None = None
) -> None:
    made = [client.create_token(names.new(), frozenset({OPERATOR}), _expiry(now))[0].id for _ in range(count)]
    listed = [t.id for t in client.list_tokens()]
    assert len(listed) == len(set(listed))  # no page twice
    assert set(made) <= set(listed)
    for token_id in made:
        client.delete_token(token_id)


def built_in_roles_are_listed(client: IoTCentralClient) -> None:
    assert OPERATOR.role in client.list_roles()


# -- Key Vault -----------------------------------------------------------------------------------------
def secret_versions_with_tags(vault: KeyVaultSecrets, names: Names) -> None:
    name = names.new()
    first = vault.set_value(
        name, Secret("contract-one"), tags={"stage": "previous"}, expires_on=None, content_type=CONTENT_TYPE
    )
    second = vault.set_value(
        name, Secret("contract-two"), tags={"stage": "current"}, expires_on=_expiry(), content_type=CONTENT_TYPE
    )
    versions = vault.list_versions(name)
    assert {v.version for v in versions} == {first.version, second.version}
    assert [v.created_on for v in versions] == sorted(v.created_on for v in versions)  # oldest first
    by_version = {v.version: v for v in versions}
    assert by_version[first.version].tags["stage"] == "previous"
    assert by_version[second.version].tags["stage"] == "current"
    assert by_version[second.version].expires_on is not None
    assert vault.get_value(name, first.version).reveal() == "contract-one"


def tags_update_and_disable(vault: KeyVaultSecrets, names: Names) -> None:
    name = names.new()
    made = vault.set_value(
        name, Secret("contract-v"), tags={"stage": "pending"}, expires_on=None, content_type=CONTENT_TYPE
    )
    updated = vault.update(name, made.version, tags={"stage": "abandoned"}, enabled=False)
    assert updated.tags == {"stage": "abandoned"}
    assert updated.enabled is False
    assert [v.enabled for v in vault.list_versions(name)] == [False]


def an_unknown_secret_has_no_versions(vault: KeyVaultSecrets, names: Names) -> None:
    name = names.new()
    assert vault.list_versions(name) == []
    assert vault.read_versions(name) is None  # positive evidence: 404 SecretNotFound


def a_soft_deleted_name_cannot_be_reused(client: SecretClient, names: Names) -> None:
    """Why the service never deletes and re-creates a slot secret: the name stays taken while deleted."""
    name = names.new()
    client.set_secret(name, "contract-deleted", content_type=CONTENT_TYPE)
    client.begin_delete_secret(name).result()
    assert client.get_deleted_secret(name).name == name
    with pytest.raises(ResourceExistsError) as refused:
        client.set_secret(name, "contract-again", content_type=CONTENT_TYPE)
    assert refused.value.status_code == 409
