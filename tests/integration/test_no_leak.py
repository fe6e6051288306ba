"""A minted token's value never reaches logs (azure-core, httpx, httpcore, ours at DEBUG) or outcomes."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator

import pytest
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from emulators.sandbox import RunningWorld
from rotation.engine.jobs import run_job
from rotation.hosting import telemetry
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs


def test_token_values_never_appear_in_debug_logs_or_outcomes(
    world: RunningWorld, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)})
    runtime = Runtime(settings, sample_specs(world))
    with caplog.at_level(logging.DEBUG):
        for name in ("azure", "azure.core", "azure.identity", "httpx", "httpcore", "rotation", "urllib3"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        rotated = run_job(runtime, "rotate")
        revoked = run_job(runtime, "revoke")
    values = {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
    minted = {v for v in values if v.startswith("SharedAccessSignature")}
    assert len(minted) >= 5  # seeded and newly minted tokens
    assert any("HTTP Request" in r.getMessage() or "Request URL" in r.getMessage() for r in caplog.records)
    text = caplog.text + repr(rotated) + repr(revoked)
    for value in values:
        assert value not in text
        assert value.split("sig=")[-1][:20] not in text  # not even the signature part


JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.")


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """Every logger at DEBUG, as `rotation --debug` sets them; back to the service's defaults afterwards."""
    telemetry.configure(env={}, level=logging.DEBUG)
    for name in telemetry.QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    telemetry.configure(env={})


@pytest.mark.usefixtures("debug_logging")
def test_the_azure_sdk_network_trace_is_redacted(world: RunningWorld, caplog: pytest.LogCaptureFixture) -> None:
    """`logging_enable=True` makes azure-core log every header (Authorization: Bearer <JWT>, the managed
    identity's X-IDENTITY-HEADER) and every body (a secret's value) unredacted; telemetry scrubs them."""
    credential = ManagedIdentityCredential(logging_enable=True)
    client = SecretClient(
        world.vault_url,
        credential,
        verify_challenge_resource=False,
        connection_verify=str(world.ca.pem_path),
        logging_enable=True,
    )
    canary = "canary-" + secrets.token_urlsafe(24)
    sas = (
        "SharedAccessSignature sr=00000000-0000-0000-0000-000000000000&sig="
        + secrets.token_urlsafe(32)
        + "&skn=rot-canary&se=1900000000000"
    )
    with caplog.at_level(logging.DEBUG):
        client.set_secret("canary", canary)
        client.set_secret("canary-sas", sas)
        assert client.get_secret("canary").value == canary
        assert client.get_secret("canary-sas").value == sas
    client.close()
    text = caplog.text
    assert "Request headers:" in text  # the network trace did run
    assert "'Authorization'" in text
    assert canary not in text
    assert sas.split("sig=")[1][:20] not in text
    assert "SharedAccessSignature" not in text
    assert not JWT.search(text)
    assert world.world.identity.header_secret not in text


def test_redact_scrubs_headers_bearers_jwts_api_tokens_and_json_secrets() -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    sas = "SharedAccessSignature sr=app&sig=YWJjZGVmZ2hpamtsbW5vcA%3D%3D&skn=rot-x&se=1900000000000"
    lines = [
        f"    'Authorization': 'Bearer {jwt_like}'",
        "    'X-IDENTITY-HEADER': 'hush-hush-value'",
        f"Authentication: bearer {'k' * 43}",
        f'{{"value": "iottly-key-{"v" * 30}", "id": "x"}}',
        f'{{"token": "{sas}"}}',
        f'b\'{{"access_token": "{jwt_like}", "expires_on": "1"}}\'',
        f"https://host/path?sig={'s' * 30}&se=1",
    ]
    redacted = telemetry.redact("\n".join(lines))
    for secret in (
        jwt_like,
        "hush-hush-value",
        "k" * 43,
        "v" * 30,
        "SharedAccessSignature",
        "s" * 30,
        "YWJjZGVmZ2hpamtsbW5vcA",
    ):
        assert secret not in redacted
    assert '"id": "x"' in redacted
    assert '"expires_on": "1"' in redacted
    assert "'Authorization'" in redacted
    plain = "list API tokens of https://127.0.0.1:1/apps/a: got HTTP 401 Unauthorized token expired"
    assert telemetry.redact(plain) == plain
