"""Invariants of the planner and the real executor over the in-memory ports, in generated worlds
(hypothesis): re-planning after a successful apply yields nothing, and no plan revokes a slot's current token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rotation.domain.model import (
    AppSpec,
    RoleAssignment,
    SlotRole,
    SlotSpec,
)
from rotation.domain.protocol import (
    CONTENT_TYPE_API_TOKEN,
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    STAGE_REVOKED,
    TAG_STAGE,
    TAG_SUPERSEDED_AT,
    TAG_TOKEN_ID,
)
from rotation.domain.secret import Secret
from rotation.engine.actions import Action, Blocked, DeleteToken, Revoke
from rotation.engine.executor import Outcome
from rotation.engine.planner import plan_revocation, plan_rotation
from rotation.engine.simulate import SimApp, simulate

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
BUILDER = "344138e9-8de4-4497-8c54-5237e96d6aaf"
ROLES = {OPERATOR: "Operator", BUILDER: "Builder"}


@st.composite
def slot_specs(draw: st.DrawFn, index: int) -> SlotSpec:
    lifetime = timedelta(days=draw(st.sampled_from([1, 7, 30])))
    renew_at = draw(st.sampled_from([0.5, 0.67, 0.8]))
    max_grace = lifetime * (1 - renew_at)
    grace = min(timedelta(hours=draw(st.sampled_from([1, 24]))), max_grace)
    return SlotSpec(
        app="app1",
        slot=f"s{index}",
        secret=f"iotc-app1-s{index}",
        roles=(SlotRole(draw(st.sampled_from([OPERATOR, "Builder"]))),),
        lifetime=lifetime,
        renew_at=renew_at,
        grace=grace,
        max_lifetime=timedelta(days=90),
        jitter=draw(st.sampled_from([0.0, 0.05])),
    )


def _tid(slot: str, created: datetime, n: int) -> str:
    return f"rot-{slot}-{created:%Y%m%d%H%M%S}-{n:04d}"


@dataclass(order=True)
class _Seed:
    """Something that existed before NOW: made, in time order, through the in-memory services."""

    at: datetime
    serial: int
    token: tuple[str, str, timedelta] | None = field(default=None, compare=False)  # id, role, lifetime
    version: tuple[str, str, dict[str, str], bool, timedelta] | None = field(default=None, compare=False)


def _build(spec: AppSpec, seeds: list[_Seed]) -> SimApp:
    """The seeded app at NOW: tokens created and versions written at their own times (the clock only moves
    forward), a version's value being its token's when the app has it."""
    world = SimApp.new(spec, min((s.at for s in seeds), default=NOW), ROLES)
    values: dict[str, Secret] = {}
    for seed in sorted(seeds):
        world.clock.advance(seed.at - world.clock.now())
        if seed.token is not None:
            token_id, role, lifetime = seed.token
            values[token_id] = world.iotc.add_token(token_id, frozenset({RoleAssignment(role)}), seed.at + lifetime)
        if seed.version is not None:
            secret, token_id, tags, enabled, lifetime = seed.version
            version = world.vault.set_value(
                secret,
                values.get(token_id, Secret("not-a-token")),
                tags=tags,
                expires_on=seed.at + lifetime if lifetime else None,
                content_type=CONTENT_TYPE_API_TOKEN,
            )
            if not enabled:
                world.vault.update(secret, version.version, enabled=False)
    world.clock.advance(NOW - world.clock.now())
    return world


@st.composite
def worlds(draw: st.DrawFn) -> SimApp:
    n_slots = draw(st.integers(1, 3))
    spec = AppSpec(
        name="app1",
        base_url="https://app1.azureiotcentral.com",
        vault="https://kv.vault.azure.net",
        slots=tuple(draw(slot_specs(i)) for i in range(n_slots)),
    )
    seeds: list[_Seed] = []
    serial = 0
    for slot in spec.slots:
        ages = sorted(draw(st.lists(st.integers(1, 24 * 60), max_size=3, unique=True)), reverse=True)
        role = draw(st.sampled_from([OPERATOR, BUILDER]))
        created_list = [NOW - timedelta(hours=a) for a in ages]
        for i, created in enumerate(created_list):
            serial += 1
            token_id = _tid(slot.slot, created, serial)
            if draw(st.booleans()) or i == len(created_list) - 1:
                seeds.append(_Seed(created, serial, token=(token_id, role, slot.lifetime)))
            newest = i == len(created_list) - 1
            stage = STAGE_CURRENT if newest else draw(st.sampled_from([STAGE_PREVIOUS, STAGE_REVOKED, STAGE_CURRENT]))
            tags = {TAG_STAGE: stage, TAG_TOKEN_ID: token_id}
            if stage == STAGE_PREVIOUS:
                tags[TAG_SUPERSEDED_AT] = created_list[i + 1].isoformat()
            seeds.append(
                _Seed(created, serial, version=(slot.secret, token_id, tags, stage != STAGE_REVOKED, slot.lifetime))
            )
        if draw(st.booleans()):
            # A staged token from an interrupted run: newer than the current one, maybe gone from the app.
            created = NOW - timedelta(minutes=draw(st.integers(1, 120)))
            serial += 1
            token_id = _tid(slot.slot, created, serial)
            if draw(st.booleans()):
                seeds.append(_Seed(created, serial, token=(token_id, role, slot.lifetime)))
            seeds.append(
                _Seed(
                    created,
                    serial,
                    version=(
                        slot.pending_secret,
                        token_id,
                        {TAG_STAGE: STAGE_PENDING, TAG_TOKEN_ID: token_id},
                        True,
                        timedelta(0),
                    ),
                )
            )
    for age in draw(st.lists(st.integers(0, 24 * 40), max_size=3)):
        serial += 1
        created = NOW - timedelta(hours=age)
        seeds.append(_Seed(created, serial, token=(_tid("s0", created, serial), OPERATOR, timedelta(days=30))))
    if draw(st.booleans()):  # a token a person made (the app gives every token an expiry)
        seeds.append(_Seed(NOW - timedelta(days=1), 0, token=("human-admin", OPERATOR, timedelta(days=365))))
    return _build(spec, seeds)


def _acting(actions: Sequence[Action]) -> list[Action]:
    return [a for a in actions if not isinstance(a, Blocked)]


def _done(outcomes: Sequence[Outcome]) -> None:
    """The real executor applied every action (a Blocked one is skipped, never failed)."""
    assert [o for o in outcomes if o.status == "failed"] == []


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_replanning_rotation_after_apply_is_empty(world: SimApp) -> None:
    actions = plan_rotation([world.spec], {"app1": world.observe()}, NOW)
    _done(world.run(actions))
    assert _acting(plan_rotation([world.spec], {"app1": world.observe()}, NOW)) == []


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_replanning_revocation_after_apply_is_empty(world: SimApp) -> None:
    _done(world.run(plan_rotation([world.spec], {"app1": world.observe()}, NOW)))
    _done(world.run(plan_revocation([world.spec], {"app1": world.observe()}, NOW)))
    assert _acting(plan_revocation([world.spec], {"app1": world.observe()}, NOW)) == []


@settings(max_examples=300, deadline=None)
@given(worlds(), st.integers(0, 24 * 60))
def test_no_plan_revokes_a_current_token(world: SimApp, later_hours: int) -> None:
    later = NOW + timedelta(hours=later_hours)
    _done(world.run(plan_rotation([world.spec], {"app1": world.observe()}, NOW)))
    state = world.observe()
    currents = {s.current.token_id for s in state.slots.values() if s.current}
    for action in plan_revocation([world.spec], {"app1": state}, later):
        if isinstance(action, DeleteToken | Revoke):
            assert action.token_id not in currents


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_every_slot_has_a_live_current_token_after_rotation(world: SimApp) -> None:
    _done(world.run(plan_rotation([world.spec], {"app1": world.observe()}, NOW)))
    state = world.observe()
    for spec in world.spec.slots:
        current = state.slots[spec.slot].current
        assert current is not None
        token = state.token(current.token_id or "")
        assert token is not None
        assert token.expiry is not None
        assert token.expiry > NOW


@settings(max_examples=8, deadline=None)
@given(slot_specs(0))
def test_a_season_of_policy_has_no_gap_and_overlap_covers_grace(slot: SlotSpec) -> None:
    """Renewal happens at the first run after the threshold, so the overlap may shrink by one step."""
    spec = AppSpec(
        name="app1", base_url="https://app1.azureiotcentral.com", vault="https://kv.vault.azure.net", slots=(slot,)
    )
    step = timedelta(hours=2)
    report = simulate(spec, NOW, days=90, step=step, roles=ROLES)
    assert report.ok, report.gaps
    mints = [e for e in report.events if e.kind == "mint+promote"]
    assert len(mints) >= 90 // slot.lifetime.days
    assert min(report.min_overlap.values()) >= slot.grace - step
