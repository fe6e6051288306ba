"""A newcomer's check of "never break a consumer", through the real CLI against the sandbox: a slot's
secret deleted by hand in the vault, `rotation revoke` after the orphan safety window: exit 3 with the
reason, and every token that was current still authenticates."""

from __future__ import annotations

import ssl
from datetime import timedelta
from pathlib import Path

import httpx

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from tests.e2e.test_cli import rotation

SECRETS = ("iotc-contoso-fleet-dashboard-reader", "iotc-contoso-fleet-auditor", "iotc-contoso-fleet-maintenance")


def _authenticates(world: RunningWorld, value: str) -> bool:
    response = httpx.get(
        f"{world.app_url('contoso-fleet')}/api/devices",
        params={"api-version": "2022-07-31"},
        headers={"Authorization": value},
        verify=ssl.create_default_context(cafile=str(world.ca.pem_path)),
    )
    return response.status_code == 200


def test_revoke_after_a_secret_was_deleted_by_hand_exits_3_and_breaks_no_consumer(
    world: RunningWorld, tmp_path: Path
) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    assert rotation(["rotate", "--app", "contoso-fleet"], env).returncode == 0  # every slot healthy first
    currents = {name: world.world.vault.versions(name)[-1] for name in SECRETS}
    currents = {name: v for name, v in currents.items() if _authenticates(world, v.value)}
    assert "iotc-contoso-fleet-auditor" in currents

    world.world.vault.soft_delete("iotc-contoso-fleet-auditor")  # a person deletes one slot's secret
    world.world.clock.advance(timedelta(hours=2))  # past the orphan safety window (1 h)
    revoke = rotation(["revoke", "--app", "contoso-fleet"], service_env(world, tmp_path, timedelta(hours=2)))

    assert revoke.returncode == 3, revoke.stdout + revoke.stderr
    reasons = [line for line in revoke.stderr.splitlines() if "contoso-fleet/auditor: blocked" in line]
    assert len(reasons) == 1, revoke.stderr
    assert "secret iotc-contoso-fleet-auditor: got no such secret" in reasons[0]
    assert "Traceback" not in revoke.stderr
    app = world.world.iotcentral.app("contoso-fleet")
    for name, version in currents.items():
        assert version.tags["token-id"] in app.tokens, name
        assert _authenticates(world, version.value), name
