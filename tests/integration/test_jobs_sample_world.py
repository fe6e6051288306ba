"""rotate → revoke on the sample world, through the real clients against the emulators."""

from __future__ import annotations

from datetime import timedelta

from emulators.sandbox import RunningWorld
from rotation.engine.actions import Blocked, DeleteToken, Mint, Revoke
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs


def _runtime(world: RunningWorld, offset: timedelta = timedelta(0)) -> Runtime:
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)})
    settings = Settings(**{**settings.__dict__, "clock_offset": offset})
    return Runtime(settings, sample_specs(world))


def test_rotate_then_revoke_on_the_sample_world(world: RunningWorld) -> None:
    runtime = _runtime(world)
    rotated = run_job(runtime, "rotate")
    by_app = {run.app: run for run in rotated.apps}

    minted = {(a.app, a.slot) for run in rotated.apps for a in run.planned if isinstance(a, Mint)}
    assert minted == {
        ("contoso-fleet", "auditor"),
        ("fabrikam-stores", "exporter"),
        ("fabrikam-stores", "reporting"),  # roles drifted from the policy
        ("fabrikam-stores", "alerts"),  # its current token was deleted by hand
        ("contoso-fleet", "maintenance"),
    }  # its vault copy no longer authenticates (IOTC-012)
    assert all(o.status == "done" for o in by_app["contoso-fleet"].outcomes), by_app["contoso-fleet"].outcomes
    assert any(isinstance(a, Blocked) for a in by_app["northwind-labs"].planned)  # not a user yet
    assert rotated.failed

    contoso = world.world.iotcentral.app("contoso-fleet")
    versions = world.world.vault.versions("iotc-contoso-fleet-auditor")
    current = versions[-1]
    assert current.tags["stage"] == "current"
    token = contoso.tokens[current.tags["token-id"]]
    assert {(r.role, r.organization) for r in token.roles} == {("5d2f6c1e-9a7b-4c3d-8e1f-0a2b3c4d5e6f", "store-eu")}
    assert versions[0].tags["stage"] == "previous"

    revoked = run_job(runtime, "revoke")
    actions = [a for run in revoked.apps for a in run.planned]
    revoked_ids = {a.token_id for a in actions if isinstance(a, Revoke | DeleteToken)}
    assert "rot-dashboard-reader" in " ".join(i or "" for i in revoked_ids)
    assert "ops-admin" in contoso.tokens  # human-made: reported, never revoked
    assert not any(t.endswith("-zz99") for t in contoso.tokens)  # orphan swept
    old_reader = world.world.vault.versions("iotc-contoso-fleet-dashboard-reader")[0]
    assert old_reader.tags["stage"] == "revoked"
    assert not old_reader.enabled

    # Past the grace period the auditor's superseded token goes too; a re-run then has nothing to do.
    world.world.clock.advance(timedelta(hours=25))
    later = _runtime(world, timedelta(hours=25))
    run_job(later, "revoke")
    assert len([t for t in contoso.tokens if t.startswith("rot-auditor-")]) == 1
    again = run_job(later, "rotate")
    assert [a for run in again.apps for a in run.planned if not isinstance(a, Blocked)] == []
