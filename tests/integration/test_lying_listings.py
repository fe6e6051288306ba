"""A token listing that omits a live token (a lying or stale listing) through the real clients: the
superseded token is never deleted on the listing's word, inside its grace or after it; once the app
lists it again after its version was retired, it is deleted then."""

from __future__ import annotations

from datetime import timedelta

from emulators.sandbox import RunningWorld
from rotation.engine.actions import DeleteToken, Revoke
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

AUDITOR = "iotc-contoso-fleet-auditor"


def _contoso(world: RunningWorld, offset: timedelta = timedelta(0)) -> Runtime:
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)})
    settings = Settings(**{**settings.__dict__, "clock_offset": offset})
    return Runtime(settings, [s for s in sample_specs(world) if s.name == "contoso-fleet"])


def test_a_superseded_token_the_listing_omits_is_never_deleted(world: RunningWorld) -> None:
    assert not run_job(_contoso(world), "rotate").failed  # the auditor's token is superseded now (grace 24 h)
    superseded = next(v for v in world.world.vault.versions(AUDITOR) if v.tags["stage"] == "previous")
    old = superseded.tags["token-id"]
    app = world.world.iotcentral.app("contoso-fleet")
    world.world.iotcentral.listing_omits.add(old)
    deletes = world.world.iotcentral.counters.get("ApiTokens_Remove")

    in_grace = run_job(_contoso(world), "revoke")
    assert old in app.tokens
    assert not [a for r in in_grace.apps for a in r.planned if getattr(a, "token_id", None) == old]

    world.world.clock.advance(timedelta(hours=25))
    later = _contoso(world, timedelta(hours=25))
    past_grace = run_job(later, "revoke")
    [retire] = [a for r in past_grace.apps for a in r.planned if isinstance(a, Revoke) and a.token_id == old]
    assert not retire.delete
    assert old in app.tokens  # never deleted on the word of a listing that does not show it
    assert [v.tags["stage"] for v in world.world.vault.versions(AUDITOR) if v.tags["token-id"] == old] == ["revoked"]
    assert world.world.iotcentral.counters.get("ApiTokens_Remove") - deletes == sum(
        1
        for r in (*in_grace.apps, *past_grace.apps)
        for a in r.planned
        if isinstance(a, DeleteToken | Revoke) and getattr(a, "delete", True)
    )

    world.world.iotcentral.listing_omits.clear()  # the app lists it again: its version was revoked, delete it
    again = run_job(later, "revoke")
    assert [a.category for r in again.apps for a in r.planned if isinstance(a, DeleteToken) and a.token_id == old] == [
        "revoked"
    ]
    assert old not in app.tokens
