"""Deployments without a managed identity: a bootstrap admin API token kept in Key Vault authenticates the
service and rotates itself (mint the successor with itself, verify, promote, revoke the old one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from emulators.sandbox import RunningWorld
from rotation.domain.model import AppSpec, SlotRole, SlotSpec
from rotation.domain.secret import Secret
from rotation.engine.admin import store_api_token
from rotation.engine.jobs import run_job
from rotation.errors import ConfigError, UserError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime

ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"


def _spec(world: RunningWorld) -> AppSpec:
    slot = SlotSpec(
        app="selfauth",
        slot="admin",
        secret="iotc-selfauth-admin",
        roles=(SlotRole(ADMINISTRATOR),),
        lifetime=timedelta(days=30),
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=timedelta(days=90),
    )
    return AppSpec(
        name="selfauth",
        base_url=world.app_url("selfauth"),
        vault=world.vault_url,
        slots=(slot,),
        api_token_slot="admin",
    )


def _runtime(world: RunningWorld, spec: AppSpec, offset: timedelta = timedelta(0)) -> Runtime:
    settings = replace(Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)}), clock_offset=offset)
    return Runtime(settings, [spec])


def test_the_admin_token_rotates_itself(world: RunningWorld) -> None:
    app = world.world.iotcentral.add_app("selfauth")  # the service's identity is NOT a user here
    app.add_device("d1")
    value = app.create_token(
        "bootstrap-admin", [{"role": "administrator"}], expiry=world.world.clock.now() + timedelta(days=365)
    )
    spec = _spec(world)
    runtime = _runtime(world, spec)
    with pytest.raises(ConfigError, match="run `rotation bootstrap --app selfauth --api-token-slot admin`"):
        runtime.iotcentral(spec)
    with pytest.raises(UserError, match="not an IoT Central API token"):
        store_api_token(runtime, spec, Secret("hello"))
    assert "stored admin token bootstrap-admin" in store_api_token(runtime, spec, Secret(value))

    rotated = run_job(runtime, "rotate", forced=[("selfauth", "admin")])
    assert not rotated.failed, rotated.outcomes()
    current = world.world.vault.versions("iotc-selfauth-admin")[-1]
    assert current.tags["token-id"].startswith("rot-admin-")
    assert current.tags["token-id"] in app.tokens

    world.world.clock.advance(timedelta(hours=25))
    revoked = run_job(_runtime(world, spec, timedelta(hours=25)), "revoke")  # authenticates with the new token
    assert not revoked.failed, revoked.outcomes()
    assert "bootstrap-admin" not in app.tokens
    assert set(app.tokens) == {current.tags["token-id"]}
