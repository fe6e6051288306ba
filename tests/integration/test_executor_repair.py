"""Failure paths of the protocol against the emulators: a failed verification or staging never loses the
current token, and the states an interrupted run leaves behind are repaired by the next run."""

from __future__ import annotations

from datetime import timedelta

from emulators.core import Fault
from emulators.sandbox import RunningWorld
from rotation.engine.actions import FinishPromotion, MarkSuperseded, Mint, ResumePending
from rotation.engine.executor import VerifyPolicy
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

AUDITOR = "iotc-contoso-fleet-auditor"
FLEET_AUDITOR = "5d2f6c1e-9a7b-4c3d-8e1f-0a2b3c4d5e6f"


def _waits(world: RunningWorld) -> VerifyPolicy:
    """The default budget and backoff, waiting on the world's emulated clock (new tokens take 1.25 s)."""
    return VerifyPolicy(sleep=world.world.clock.sleep, clock=world.world.clock.seconds)


def _contoso(world: RunningWorld) -> Runtime:
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)})
    return Runtime(settings, [s for s in sample_specs(world) if s.name == "contoso-fleet"])


def test_a_token_that_never_verifies_is_revoked_and_the_current_one_stays(world: RunningWorld) -> None:
    world.world.iotcentral.propagation_delay = timedelta(days=1)  # new tokens are refused (401)
    app = world.world.iotcentral.app("contoso-fleet")
    before = set(app.tokens)
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "failed"
    assert "failed verification" in outcome.detail
    assert set(app.tokens) == before  # the new token was deleted again
    assert [v.tags["stage"] for v in world.world.vault.versions(AUDITOR)] == ["current"]
    assert [v.tags["stage"] for v in world.world.vault.versions(AUDITOR + "-pending")] == ["abandoned"]


def test_a_staging_failure_deletes_the_new_token(world: RunningWorld) -> None:
    world.world.vault.faults.add(Fault("error", route="SetSecret", status=500, times=20))
    app = world.world.iotcentral.app("contoso-fleet")
    before = set(app.tokens)
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "failed"
    assert "new token deleted" in outcome.detail
    assert set(app.tokens) == before
    assert world.world.vault.versions(AUDITOR + "-pending") == []


def test_a_staged_token_left_by_a_crash_is_verified_and_promoted(world: RunningWorld) -> None:
    now = world.world.clock.now()
    app = world.world.iotcentral.app("contoso-fleet")
    token_id = f"rot-auditor-{now:%Y%m%d%H%M%S}-crsh"
    value = app.create_token(
        token_id, [{"role": FLEET_AUDITOR, "organization": "store-eu"}], expiry=now + timedelta(days=30)
    )
    world.world.vault.seed_secret(AUDITOR + "-pending", value, tags={"stage": "pending", "token-id": token_id})
    runtime = _contoso(world)
    result = run_job(runtime, "rotate", verify_policy=_waits(world))
    planned = result.apps[0].planned
    assert [type(a) for a in planned if a.slot == "auditor"] == [ResumePending]
    assert all(o.status == "done" for o in result.outcomes())
    assert world.world.vault.versions(AUDITOR)[-1].tags["token-id"] == token_id
    assert not [a for a in run_job(runtime, "rotate").apps[0].planned if isinstance(a, Mint | ResumePending)]


def test_a_promotion_interrupted_before_retagging_is_finished(world: RunningWorld) -> None:
    now = world.world.clock.now()
    app = world.world.iotcentral.app("contoso-fleet")
    token_id = f"rot-auditor-{now:%Y%m%d%H%M%S}-half"
    value = app.create_token(
        token_id, [{"role": FLEET_AUDITOR, "organization": "store-eu"}], expiry=now + timedelta(days=30)
    )
    tags = {"stage": "current", "token-id": token_id, "managed-by": "rotation"}
    world.world.vault.seed_secret(AUDITOR + "-pending", value, tags={**tags, "stage": "pending"})
    world.world.vault.seed_secret(AUDITOR, value, tags=tags, created_on=now + timedelta(seconds=1))
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    kinds = {type(a) for a in result.apps[0].planned if getattr(a, "slot", None) == "auditor"}
    assert kinds == {FinishPromotion, MarkSuperseded}
    stages = [v.tags["stage"] for v in world.world.vault.versions(AUDITOR)]
    assert stages == ["previous", "current"]
    assert world.world.vault.versions(AUDITOR + "-pending")[-1].tags["stage"] == "promoted"


def test_an_expiry_the_app_did_not_honour_is_recorded_not_assumed(world: RunningWorld) -> None:
    world.world.iotcentral.expiry_policy = "ignore"  # the app sets one year whatever we ask
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "done"
    assert "expiry mismatch: requested" in outcome.detail
    current = world.world.vault.versions(AUDITOR)[-1]
    assert "requested-expiry" in current.tags
    assert current.expires_on is not None
    assert current.expires_on - world.world.clock.now() > timedelta(days=300)  # the app's truth is stored
    again = run_job(_contoso(world), "rotate", verify_policy=_waits(world))  # and it does not cause endless re-minting
    assert not [a for a in again.apps[0].planned if isinstance(a, Mint)]


def test_an_app_refusing_expiry_still_promotes_and_the_outcome_says_so(world: RunningWorld) -> None:
    world.world.iotcentral.expiry_policy = "reject"  # a 400 naming expiry, as Microsoft's client never sends it
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "done"
    assert "promoted" in outcome.detail
    assert "does not honour requested expiries" in outcome.detail
    current = world.world.vault.versions(AUDITOR)[-1]
    assert current.tags["stage"] == "current"
    assert "requested-expiry" in current.tags
