"""The in-memory ports (`rotation.engine.memory`) answer like the real adapters against the emulators: the same
scenario through both gives the same observations (ids, statuses, exception types, tags, order), so a
property test on memory proves something about the service that talks to the real APIs."""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from azure.identity import ManagedIdentityCredential

from emulators.sandbox import RunningWorld
from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.domain.model import RoleAssignment
from rotation.domain.secret import Secret
from rotation.engine.memory import InMemoryIoTCentral, InMemoryVault, ManualClock
from rotation.engine.ports import IoTCentralPort, VaultPort
from rotation.errors import AuthError, RotationError, ServiceError

OPERATOR = RoleAssignment("ae2c9854-393b-4f97-8c42-479d70ce626e")
CONTENT_TYPE = "application/vnd.iotcentral.apitoken"


def _failure(call: Callable[[], object]) -> str:
    """What a refused call looks like to the executor: the branch of the error tree it catches, and the HTTP
    status (a `NotFoundError` is a `ServiceError` with status 404, whichever of the two a port raises)."""
    try:
        call()
    except AuthError as exc:
        return f"AuthError {exc.status}"
    except ServiceError as exc:
        return f"ServiceError {exc.status}"
    except RotationError as exc:
        return type(exc).__name__
    return "ok"


def iotcentral_trace(port: IoTCentralPort, now: datetime) -> list[object]:
    token_id = "rot-contract-20260105090000-abcd"
    expiry = now + timedelta(days=1)
    token, value = port.create_token(token_id, frozenset({OPERATOR}), expiry)
    port.verify(value, "GET", "/api/devices")
    return [
        token.id,
        token.roles == {OPERATOR},
        token.expiry is not None and abs(token.expiry - expiry).seconds < 1,
        _failure(lambda: port.create_token(token_id, frozenset({OPERATOR}), expiry)),
        token_id in {t.id for t in port.list_tokens()},
        port.delete_token(token_id),
        port.delete_token(token_id),
        token_id in {t.id for t in port.list_tokens()},
        _failure(lambda: port.verify(value, "GET", "/api/devices")),
    ]


IOTCENTRAL_EXPECTED = [
    "rot-contract-20260105090000-abcd",
    True,
    True,
    "ServiceError 409",
    True,
    True,
    False,
    False,
    "VerificationError",
]


def vault_trace(port: VaultPort, soft_delete: Callable[[str], None]) -> list[object]:
    name = "contract-secret"

    def put(value: str, **tags: str) -> str:
        return port.set_value(name, Secret(value), tags=tags, expires_on=None, content_type=CONTENT_TYPE).version

    out: list[object] = [port.list_versions(name)]
    first = put("one", stage="pending", extra="x")
    port.update(name, first, tags={"stage": "abandoned"})  # tags are replaced as a whole
    out.append(dict(port.list_versions(name)[0].tags))
    second = put("two", stage="current")
    # same-second versions come in version-id order (the adapter's sort), so compare them as a set
    out += [{v.version for v in port.list_versions(name)} == {first, second}, port.get_value(name).reveal() == "two"]
    disabled = port.update(name, first, enabled=False)
    out += [disabled.enabled, dict(disabled.tags), _failure(lambda: port.get_value(name, first))]
    out.append(_failure(lambda: port.update(name, "0" * 32, tags={})))
    soft_delete(name)
    out += [port.list_versions(name), _failure(lambda: port.get_value(name)), _failure(lambda: put("three"))]
    return out


VAULT_EXPECTED = [
    [],
    {"stage": "abandoned"},
    True,
    True,
    False,
    {"stage": "abandoned"},
    "AuthError 403",
    "ServiceError 404",
    [],
    "ServiceError 404",
    "ServiceError 409",
]


@pytest.fixture
def http(world: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(world.ca.pem_path)), trust_env=False) as client:
        yield client


def test_iotcentral_adapter_on_the_emulator(world: RunningWorld, http: httpx.Client) -> None:
    world.world.iotcentral.propagation_delay = timedelta(0)
    client = IoTCentralClient(world.app_url("contoso-fleet"), http, credential=ManagedIdentityCredential())
    assert iotcentral_trace(client, world.world.clock.now()) == IOTCENTRAL_EXPECTED


def test_iotcentral_in_memory() -> None:
    clock = ManualClock(datetime.fromisoformat("2026-01-05T09:00:00+00:00"))
    port = InMemoryIoTCentral("https://app.azureiotcentral.com", clock, {OPERATOR.role: "Operator"}, random.Random(0))  # noqa: S311
    assert iotcentral_trace(port, clock.now()) == IOTCENTRAL_EXPECTED


def test_vault_adapter_on_the_emulator(world: RunningWorld) -> None:
    vault = KeyVaultSecrets(
        build_secret_client(world.vault_url, ManagedIdentityCredential(), ca_bundle=str(world.ca.pem_path))
    )
    assert vault_trace(vault, world.world.vault.soft_delete) == VAULT_EXPECTED


def test_vault_in_memory() -> None:
    clock = ManualClock(datetime.fromisoformat("2026-01-05T09:00:00+00:00"))
    vault = InMemoryVault("https://kv.vault.azure.net", clock, random.Random(0))  # noqa: S311
    assert vault_trace(vault, vault.delete_secret) == VAULT_EXPECTED
    assert vault.read_versions("contract-secret") is None  # no such (live) secret, unlike an empty one
    vault.recover_secret("contract-secret")
    assert [v.enabled for v in vault.read_versions("contract-secret") or []] == [False, True]
