"""`python -m emulators up` starts the sample world, publishes KEY=value settings and stops on SIGTERM."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

REQUIRED = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "SANDBOX_CA_BUNDLE",
    "SANDBOX_VAULT_URL",
    "SANDBOX_IOTCENTRAL_URL",
    "SANDBOX_IOTTLY_URL",
)


def test_up_serves_the_sample_world_until_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    process = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
        [sys.executable, "-m", "emulators", "up", "--env-file", str(env_file), "--dir", str(tmp_path / "ca")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        settings: dict[str, str] = {}
        for line in process.stdout:
            key, _, value = line.strip().partition("=")
            settings[key] = value
            if key == "SANDBOX_BOOTSTRAP_TOKEN_FILE":
                break
        assert set(REQUIRED) <= set(settings)
        assert dict(line.split("=", 1) for line in env_file.read_text().splitlines()) == settings
        verify = ssl.create_default_context(cafile=settings["SANDBOX_CA_BUNDLE"])
        with httpx.Client(verify=verify, trust_env=False) as http:
            token = http.get(
                settings["IDENTITY_ENDPOINT"],
                params={"resource": "https://apps.azureiotcentral.com", "api-version": "2019-08-01"},
                headers={"X-IDENTITY-HEADER": settings["IDENTITY_HEADER"]},
            ).json()["access_token"]
            listing = http.get(
                f"{settings['SANDBOX_IOTCENTRAL_URL']}/api/apiTokens",
                params={"api-version": "2022-07-31"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert listing.status_code == 200
            assert any(item["id"] == "ops-admin" for item in listing.json()["value"])
            assert all("token" not in item for item in listing.json()["value"])
            assert http.get(f"{settings['SANDBOX_IOTTLY_URL']}/v1.0/project/ping").status_code == 401
            vault = http.get(settings["SANDBOX_VAULT_URL"] + "/secrets", params={"api-version": "7.6"})
            assert vault.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
