"""The Key Vault emulator on the wire, below the SDK: the challenge header, the api-version gate, the
error shape on every kind of failure, paging links, request validation, the seeding API, and the
standalone `python -m emulators.keyvault` process driven by the real SDK."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from emulators.conformance import SpecConformance
from emulators.core import Clock, Fault, SandboxAuthority, SandboxCA
from emulators.keyvault import KeyVaultEmulator
from tests.conftest import attach_conformance

TENANT = "11111111-2222-3333-4444-555555555555"
OFFICER = "0f0f0f0f-0000-0000-0000-000000000001"
V = {"api-version": "7.6"}


@dataclass
class Wire:
    emulator: KeyVaultEmulator
    url: str
    http: httpx.Client
    authority: SandboxAuthority

    def token(self, *, oid: str = OFFICER, tid: str = TENANT, audience: str = "https://vault.azure.net") -> str:
        token, _ = self.authority.issue(audience=audience, oid=oid, tid=tid, appid="app", now=self.emulator.clock.now())
        return token

    def call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return self.http.request(
            method, self.url + path, params=V if params is None else params, headers=headers, **kwargs
        )


@pytest.fixture
def wire(authority: SandboxAuthority, sandbox_ca: SandboxCA, conformance: dict[str, SpecConformance]) -> Iterator[Wire]:
    emulator = KeyVaultEmulator(authority, vault_name="kv-wire", tenant_id=TENANT, page_size=25)
    attach_conformance(emulator, conformance)
    emulator.grant(OFFICER, "officer")
    with emulator.serve(sandbox_ca) as url, httpx.Client(verify=sandbox_ca.client_context()) as http:
        yield Wire(emulator, url, http, authority)


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return dict(body["error"])


def test_an_anonymous_request_gets_the_bearer_challenge(wire: Wire) -> None:
    response = wire.http.put(wire.url + "/secrets/slot", params=V, headers={"Content-Length": "0"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="https://vault.azure.net"'
    )
    assert _error(response)["code"] == "Unauthorized"


@pytest.mark.parametrize(
    ("claims", "message"),
    [({"audience": "https://management.azure.com"}, "audience"), ({"tid": "another-tenant"}, "AKV10032")],
)
def test_tokens_for_another_audience_or_tenant_are_401(wire: Wire, claims: dict[str, str], message: str) -> None:
    response = wire.call("GET", "/secrets", token=wire.token(**claims))
    assert response.status_code == 401
    assert message in _error(response)["message"]
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 400), ({"api-version": "9.9"}, 400), ({"api-version": "2026-04-01"}, 200), ({"api-version": "7.3"}, 200)],
)
def test_the_api_version_is_required_and_checked(wire: Wire, params: dict[str, str], status: int) -> None:
    response = wire.call("GET", "/secrets", params=params)
    assert response.status_code == status
    if status == 400:
        assert _error(response)["code"] == "BadParameter"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nothing-here", 404, "NotFound"),
        ("POST", "/secrets", 405, "MethodNotAllowed"),
        ("GET", "/secrets/a/b/c", 404, "NotFound"),
    ],
)
def test_unknown_routes_answer_in_the_key_vault_error_shape(
    wire: Wire, method: str, path: str, status: int, code: str
) -> None:
    response = wire.call(method, path)
    assert response.status_code == status
    assert _error(response)["code"] == code


def test_injected_faults_answer_in_the_key_vault_error_shape(wire: Wire) -> None:
    wire.emulator.faults.add(Fault("throttle", route="GetSecrets", times=1, retry_after=7))
    wire.emulator.faults.add(Fault("error", route="GetSecrets", status=500, times=1))
    throttled = wire.call("GET", "/secrets")
    failed = wire.call("GET", "/secrets")
    assert (throttled.status_code, throttled.headers["Retry-After"], _error(throttled)["code"]) == (
        429,
        "7",
        "Throttled",
    )
    assert (failed.status_code, _error(failed)["code"]) == (500, "InternalServerError")
    assert wire.call("GET", "/secrets").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"tags": {}}',
        b'{"value": 5}',
        b'{"value": "v", "attributes": {"exp": "soon"}}',
        b'{"value": "v", "attributes": {"enabled": "yes"}}',
        b'{"value": "v", "tags": {"a": 1}}',
    ],
)
def test_malformed_set_bodies_are_400(wire: Wire, body: bytes) -> None:
    response = wire.call("PUT", "/secrets/slot", content=body)
    assert response.status_code == 400
    assert _error(response)["code"] == "BadParameter"
    assert wire.emulator.versions("slot") == []


def test_set_renders_a_secret_bundle_and_patch_accepts_an_empty_version(wire: Wire) -> None:
    created = wire.call("PUT", "/secrets/Slot", json={"value": "v", "attributes": {"nbf": 1_700_000_000}}).json()
    assert created["id"].startswith(f"{wire.url}/secrets/Slot/")
    assert created["value"] == "v"
    assert created["attributes"]["nbf"] == 1_700_000_000
    assert "exp" not in created["attributes"]
    assert "tags" not in created

    patched = wire.call("PATCH", "/secrets/slot/", json={"tags": {"stage": "current"}}).json()
    assert patched["id"] == created["id"]  # names are case-insensitive and keep their first casing
    assert "value" not in patched
    assert patched["tags"] == {"stage": "current"}


def test_list_pages_carry_absolute_next_links_and_validate_maxresults(wire: Wire) -> None:
    for i in range(3):
        wire.emulator.seed_secret(f"s{i}", "v")
    first = wire.call("GET", "/secrets", params={**V, "maxresults": "2"}).json()
    assert first["nextLink"].startswith(f"{wire.url}/secrets?api-version=7.6&$skiptoken=")
    wire.emulator.seed_secret("s0a", "v")  # created between pages, sorts before the marker
    second = wire.http.get(first["nextLink"], headers={"Authorization": f"Bearer {wire.token()}"}).json()
    assert [i["id"].rsplit("/", 1)[1] for i in first["value"] + second["value"]] == ["s0", "s1", "s2"]
    assert "nextLink" not in second
    for bad in ("0", "26", "x"):
        assert wire.call("GET", "/secrets", params={**V, "maxresults": bad}).status_code == 400
    assert wire.call("GET", "/secrets", params={**V, "$skiptoken": "!!"}).status_code == 400


def test_versions_of_an_unknown_secret_list_empty(wire: Wire) -> None:
    response = wire.call("GET", "/secrets/never-made/versions")
    assert response.status_code == 200
    assert response.json() == {"value": []}


def test_rbac_is_checked_before_the_secret_is_looked_up(wire: Wire) -> None:
    response = wire.call("GET", "/secrets/never-made/", token=wire.token(oid="nobody"))
    assert response.status_code == 403
    error = _error(response)
    assert error["innererror"] == {"code": "ForbiddenByRbac"}
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in error["message"]
    assert "/vaults/kv-wire/secrets/never-made" in error["message"]


def test_seeding_applies_the_api_limits_and_the_deleted_state(authority: SandboxAuthority) -> None:
    clock = Clock(frozen_at=datetime(2026, 1, 1, tzinfo=UTC))
    vault = KeyVaultEmulator(authority, clock=clock, retention_days=7)
    created = datetime(2025, 12, 1, tzinfo=UTC)
    version = vault.seed_secret(
        "slot", "v", created_on=created, expires_on=created + timedelta(days=30), tags={"stage": "current"}
    )
    [record] = vault.versions("slot")
    assert (record.version, record.created_on, record.updated_on) == (version, created, created)
    naive = datetime(2025, 1, 1)  # noqa: DTZ001 -- the naive datetime is the point
    refused: list[tuple[Callable[[], str], str]] = [
        (lambda: vault.seed_secret("no_underscores", "v"), "invalid name"),
        (lambda: vault.seed_secret("slot", "x" * 25_601), "too large"),
        (lambda: vault.seed_secret("slot", "v", tags={str(i): "" for i in range(16)}), "Too many tags"),
        (lambda: vault.seed_secret("slot", "v", created_on=naive), "naive"),
    ]
    for seed, reason in refused:
        with pytest.raises(ValueError, match=reason):
            seed()
    assert len(vault.versions("slot")) == 1
    with pytest.raises(ValueError, match="role"):
        vault.grant("someone", "owner")

    vault.soft_delete("slot")
    assert vault.is_deleted("slot")
    with pytest.raises(ValueError, match="deleted but recoverable"):
        vault.seed_secret("slot", "again")
    clock.advance(timedelta(days=7))  # retention over: the service purges it
    assert not vault.is_deleted("slot")
    assert vault.seed_secret("slot", "again")
    assert vault.store.recovery_level == "CustomizedRecoverable+Purgeable"


def test_python_m_emulators_keyvault_serves_a_vault_the_sdk_can_use(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "emulators.keyvault", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        settings: dict[str, str] = {}
        while len(settings) < 5 and (line := process.stdout.readline()):
            key, _, value = line.strip().partition("=")
            settings[key] = value
        monkeypatch.setenv("IDENTITY_ENDPOINT", settings["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", settings["IDENTITY_HEADER"])
        with SecretClient(
            settings["SANDBOX_VAULT_URL"],
            ManagedIdentityCredential(),
            verify_challenge_resource=False,
            connection_verify=settings["SANDBOX_CA_BUNDLE"],
        ) as client:
            client.set_secret("standalone", "works")
            assert client.get_secret("standalone").value == "works"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
