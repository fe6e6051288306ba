"""What observe reads, and when (docs/protocol.md, "Calls"): the pure rules that decide the second round,
and that reading on a pool observes exactly what reading one call after another does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rotation.domain.model import AppSpec, AppToken, RoleAssignment, SecretVersion, SlotRole, SlotSpec
from rotation.engine.executor import AppExecutor
from rotation.engine.observe import needs_roles, observe_app, settled
from rotation.engine.planner import plan_rotation
from rotation.engine.simulate import SimApp

START = datetime(2026, 3, 2, tzinfo=UTC)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
CUSTOM = "5d2f6c1e-9a7b-4c3d-8e1f-0a2b3c4d5e6f"


def _slot(name: str, role: str = OPERATOR) -> SlotSpec:
    return SlotSpec(
        app="app1",
        slot=name,
        secret=f"iotc-app1-{name}",
        roles=(SlotRole(role),),
        lifetime=timedelta(days=7),
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=timedelta(days=90),
    )


SPEC = AppSpec("app1", "https://app1.azureiotcentral.com", "https://kv.vault.azure.net", (_slot("a"), _slot("b")))


def _version(n: int, stage: str, *, enabled: bool = True) -> SecretVersion:
    return SecretVersion("s", f"v{n}", START + timedelta(days=n), enabled, tags={"stage": stage, "token-id": f"t{n}"})


def test_a_secret_is_settled_only_when_its_last_promotion_shows_finished() -> None:
    assert not settled([])  # never promoted: its staging secret may hold leftovers
    assert not settled([_version(1, "current")])  # a first promotion: nothing retired shows step 6
    assert settled([_version(1, "previous"), _version(2, "current")])
    assert settled([_version(1, "revoked", enabled=False), _version(2, "current")])
    assert not settled([_version(1, "current"), _version(2, "current")])  # stopped before step 6
    assert not settled([_version(1, "previous"), _version(2, "current"), _version(3, "pending")])
    assert not settled([_version(1, "previous"), _version(2, "current", enabled=False)])


def test_roles_are_listed_only_for_a_role_that_is_not_built_in() -> None:
    builtin = AppToken("rot-a-20260302000000-abcd", frozenset({RoleAssignment(OPERATOR)}), None)
    custom = AppToken("human", frozenset({RoleAssignment(CUSTOM, "org")}), None)
    assert not needs_roles(SPEC, [builtin])
    assert needs_roles(SPEC, [builtin, custom])  # a listed token holds a custom role
    assert needs_roles(replace(SPEC, slots=(_slot("a", "Fleet Reader"),)), [])  # declared by name
    assert needs_roles(replace(SPEC, slots=(_slot("a", CUSTOM),)), [])  # a GUID the app must confirm


def test_reading_on_a_pool_observes_what_reading_in_order_does() -> None:
    world = SimApp.new(SPEC, START, {OPERATOR: "Operator"})
    world.run(plan_rotation([SPEC], {"app1": world.observe()}, START))
    with ThreadPoolExecutor(max_workers=3) as pool:
        for _ in range(3):
            world.clock.advance(timedelta(days=5))
            now = world.clock.now()
            alone = observe_app(SPEC, world.iotc, world.vault, verify_current=True)
            pooled = observe_app(SPEC, world.iotc, world.vault, verify_current=True, pool=pool)
            assert pooled == alone
            actions = plan_rotation([SPEC], {"app1": pooled}, now)
            executor = AppExecutor(SPEC, world.iotc, world.vault, world.clock.now, observed=pooled, pool=pool)
            outcomes = executor.run(actions)
            assert [(o.slot, o.action) for o in outcomes] == [(a.slot, a.kind) for a in actions]
            assert all(o.status == "done" for o in outcomes), outcomes
            assert plan_rotation([SPEC], {"app1": observe_app(SPEC, world.iotc, world.vault)}, now) == []
