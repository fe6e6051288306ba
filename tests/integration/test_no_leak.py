"""A minted token's value never reaches logs (azure-core, httpx, httpcore, ours at DEBUG) or outcomes."""

from __future__ import annotations

import logging

import pytest

from emulators.sandbox import RunningWorld
from rotation.config import Settings
from rotation.jobs import run_job
from rotation.runtime import Runtime
from tests.integration.sample_specs import sample_specs


def test_token_values_never_appear_in_debug_logs_or_outcomes(world: RunningWorld,
                                                              caplog: pytest.LogCaptureFixture) -> None:
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
