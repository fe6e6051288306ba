"""End-to-end fixtures: the Function app's app settings pointing at the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulators.sandbox import RunningWorld
from tests.e2e.function_support import SANDBOX_POLICIES


@pytest.fixture
def sandbox_env(world: RunningWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """App settings as the Function app would see them, pointing at the sandbox (its env vars)."""
    for key, value in world.settings().items():
        monkeypatch.setenv(key, value)
    reports = tmp_path / "reports"
    settings = {
        "ROTATION_CA_BUNDLE": str(world.ca.pem_path),
        "ROTATION_POLICIES": str(SANDBOX_POLICIES),
        "ROTATION_REPORTS_DIR": str(reports),
        "ROTATION_FANOUT": "inline",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    for key in (
        "AZURE_CLIENT_ID",
        "ROTATION_CLOCK_OFFSET",
        "ROTATION_REPORTS_ACCOUNT_URL",
        "ROTATION_REPORTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "ROTATION_FAIL_ON",
        "ROTATION_QUEUE",
        "ROTATION_LEASE_CONTAINER",
        "AzureWebJobsStorage",
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__queueServiceUri",
    ):
        monkeypatch.delenv(key, raising=False)
    return reports
