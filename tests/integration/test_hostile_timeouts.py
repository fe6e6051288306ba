"""One setting, ROTATION_HTTP_TIMEOUT, bounds every client the runtime builds (a hung service fails the
call instead of holding the run), origins compare as RFC 6454 says, and the SDK debug logging the
`--debug` switch turns on shows neither the bearer nor a token value."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.identity import ManagedIdentityCredential

from emulators.core import Fault
from rotation.adapters.http import RetryPolicy
from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.adapters.origin import same_origin
from rotation.domain.secret import Secret
from rotation.errors import ConfigError, IncompleteListingError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.hostile_support import Hostile, hostile_world


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    with hostile_world(tmp_path, monkeypatch) as world:
        yield world


@contextmanager
def runtime(hostile: Hostile, timeout: str) -> Iterator[Runtime]:
    settings = Settings.from_env({"ROTATION_HTTP_TIMEOUT": timeout, "ROTATION_CA_BUNDLE": hostile.ca_path})
    built = Runtime(settings, apps=(), credential=ManagedIdentityCredential())
    try:
        yield built
    finally:
        built.close()


@pytest.mark.parametrize(("raw", "seconds"), [(None, 15.0), ("", 15.0), ("0.25", 0.25), ("120", 120.0)])
def test_the_timeout_setting(raw: str | None, seconds: float) -> None:
    env = {} if raw is None else {"ROTATION_HTTP_TIMEOUT": raw}
    assert Settings.from_env(env).http_timeout == seconds


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "nan", "inf", "301"])
def test_a_bad_timeout_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="ROTATION_HTTP_TIMEOUT"):
        Settings.from_env({"ROTATION_HTTP_TIMEOUT": raw})


def test_a_hung_app_times_out(hostile: Hostile) -> None:
    hostile.running.world.iotcentral.faults.add(Fault("latency", route="Roles_List", latency=2.0))
    with runtime(hostile, "0.2") as rt:
        http = rt.http()
        assert (http.timeout.read, http.timeout.connect) == (0.2, 0.2)
        client = IoTCentralClient(
            hostile.running.app_url("contoso-fleet"),
            http,
            credential=ManagedIdentityCredential(),
            retry=RetryPolicy(sleep=lambda _: None),
        )
        with pytest.raises(IncompleteListingError, match="ReadTimeout"):
            client.list_roles()


def test_a_hung_vault_times_out(hostile: Hostile) -> None:
    hostile.running.world.vault.faults.add(Fault("latency", route="GetSecretVersions", latency=2.0))
    with runtime(hostile, "0.2") as rt, pytest.raises(IncompleteListingError, match="ServiceResponse"):
        rt.vault(hostile.running.vault_url).list_versions("iotc-contoso-fleet-dashboard-reader")


def test_the_default_connect_timeout_is_at_most_five_seconds(hostile: Hostile) -> None:
    with runtime(hostile, "30") as rt:
        assert (rt.http().timeout.read, rt.http().timeout.connect) == (30.0, 5.0)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://App.Example.com/x", "https://app.example.com/y?z", True),
        ("https://app.example.com:443/", "https://app.example.com", True),
        ("http://localhost:80/", "http://LOCALHOST", True),
        ("https://app.example.com", "http://app.example.com", False),
        ("https://app.example.com", "https://app.example.com:8443", False),
        ("https://app.example.com", "https://app.example.com.evil.test", False),
        ("https://app.example.com", "https://user@app.example.com", False),
        ("https://app.example.com", "ftp://app.example.com", False),
        ("https://app.example.com", "/relative", False),
        ("https://app.example.com", "https://app.example.com:99999", False),
    ],
)
def test_origins(a: str, b: str, same: bool) -> None:
    assert same_origin(a, b) is same


def test_debug_logging_never_shows_a_bearer_or_a_value(hostile: Hostile, caplog: pytest.LogCaptureFixture) -> None:
    vault = KeyVaultSecrets(
        build_secret_client(
            hostile.running.vault_url, ManagedIdentityCredential(), ca_bundle=hostile.ca_path, logging_enable=True
        )
    )
    with caplog.at_level(logging.DEBUG):
        version = vault.set_value(
            "iotc-logged",
            Secret("VALUE-THAT-MUST-NOT-BE-LOGGED"),
            tags={"stage": "x"},
            expires_on=None,
            content_type="text/plain",
        )
        assert vault.get_value("iotc-logged", version.version).reveal() == "VALUE-THAT-MUST-NOT-BE-LOGGED"
    assert "request PUT" in caplog.text
    assert "VALUE-THAT-MUST-NOT-BE-LOGGED" not in caplog.text
    assert "eyJ" not in caplog.text  # no JWT (a bearer) either


def test_the_runtime_http_client_follows_no_redirect(hostile: Hostile) -> None:
    with runtime(hostile, "5") as rt:
        assert rt.http().follow_redirects is False
