"""Verification of a new token waits within a time budget (default 90 s, a slot's `verify: {budget: ...}`
overrides it) with a capped backoff: a token the app accepts only after 30 s is verified and promoted, one
it never accepts fails once the budget is spent and the current token stays. Every wait is on the world's
emulated clock (the executor's injectable clock and sleep), so the tests wait for nothing real; the number
of tries the backoff makes is asserted, and the log says how long it took, never the value."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import timedelta

import pytest

from emulators.sandbox import RunningWorld
from rotation.domain.model import AppSpec
from rotation.engine.executor import VerifyPolicy
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

AUDITOR = "iotc-contoso-fleet-auditor"
LINE = re.compile(r"(verified|verification failed) token=(rot-auditor-\S+) after=([\d.]+)s attempts=(\d+)")


def _contoso(world: RunningWorld, budget: timedelta | None = None) -> Runtime:
    [app] = [s for s in sample_specs(world) if s.name == "contoso-fleet"]
    slots = tuple(dataclasses.replace(s, verify_budget=budget) if s.slot == "auditor" else s for s in app.slots)
    # One request at a time: every emulated sleep advances the one clock, so two slots verifying at once
    # would each see the other's waits as their own time passing (a real clock does not: threads sleep at once).
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path), "ROTATION_MAX_CONCURRENCY": "1"})
    return Runtime(settings, [AppSpec(**{**vars(app), "slots": slots})])


def _waits(world: RunningWorld) -> VerifyPolicy:
    return VerifyPolicy(sleep=world.world.clock.sleep, clock=world.world.clock.seconds)


def _auditor_line(caplog: pytest.LogCaptureFixture) -> tuple[str, float, int]:
    [found] = [m for r in caplog.records if (m := LINE.search(r.getMessage()))]
    return found.group(1), float(found.group(3)), int(found.group(4))


def _stages(world: RunningWorld, secret: str) -> list[str]:
    return [v.tags["stage"] for v in world.world.vault.versions(secret)]


def test_a_token_that_takes_30_s_to_propagate_is_verified_and_promoted(
    world: RunningWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.world.iotcentral.propagation_delay = timedelta(seconds=30)
    caplog.set_level(logging.INFO, logger="rotation.executor")
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "done", outcome.detail
    assert _stages(world, AUDITOR) == ["previous", "current"]
    verdict, after, attempts = _auditor_line(caplog)
    # waits 0.25, 0.5, 1, 2, 4, 8, 8, 8 (31.75 s): the ninth try is the first after 30 s
    assert (verdict, attempts) == ("verified", 9)
    assert after >= 31.75
    assert all(world.world.vault.versions(AUDITOR)[-1].value not in r.getMessage() for r in caplog.records)


def test_a_token_that_never_propagates_fails_after_the_default_budget(
    world: RunningWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.world.iotcentral.propagation_delay = timedelta(days=1)
    caplog.set_level(logging.INFO, logger="rotation.executor")
    app = world.world.iotcentral.app("contoso-fleet")
    before = set(app.tokens)
    result = run_job(_contoso(world), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "failed"
    assert "failed verification" in outcome.detail
    assert set(app.tokens) == before
    assert _stages(world, AUDITOR) == ["current"]
    verdict, after, attempts = _auditor_line(caplog)
    # 0.25 doubling to 8 then 8 s waits up to 87.75 s, a last one of 2.25 s to the budget: 17 tries in 90 s
    assert (verdict, attempts) == ("verification failed", 17)
    assert 90 <= after < 91


def test_a_slot_budget_longer_than_the_default_waits_for_a_slower_token(
    world: RunningWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.world.iotcentral.propagation_delay = timedelta(seconds=100)  # beyond the default 90 s
    caplog.set_level(logging.INFO, logger="rotation.executor")
    result = run_job(_contoso(world, budget=timedelta(minutes=2)), "rotate", verify_policy=_waits(world))
    [outcome] = [o for o in result.outcomes() if o.action == "Mint" and o.slot == "auditor"]
    assert outcome.status == "done", outcome.detail
    assert _auditor_line(caplog)[0] == "verified"
