"""The simulator runs the one protocol implementation: the real executor over the in-memory ports."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from rotation.domain.model import AppSpec, SlotRole, SlotSpec
from rotation.domain.protocol import MANAGED_BY, STAGE_CURRENT, STAGE_PROMOTED, TAG_MANAGED_BY, TAG_ROLES, TAG_STAGE
from rotation.domain.values import parse_managed_id
from rotation.engine.actions import ActionKind
from rotation.engine.memory_vault import MAX_TAG_VALUE
from rotation.engine.planner import plan_rotation
from rotation.engine.simulate import SimApp, simulate

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ROLES = {OPERATOR: "Operator"}
SLOT = SlotSpec(
    app="app1",
    slot="reader",
    secret="iotc-app1-reader",
    roles=(SlotRole(OPERATOR),),
    lifetime=timedelta(days=7),
    renew_at=0.67,
    grace=timedelta(hours=24),
    max_lifetime=timedelta(days=90),
)
SPEC = AppSpec(
    name="app1", base_url="https://app1.azureiotcentral.com", vault="https://kv.vault.azure.net", slots=(SLOT,)
)


def test_a_simulated_mint_writes_what_the_executor_writes() -> None:
    world = SimApp.new(SPEC, START, ROLES)
    [outcome] = world.run(plan_rotation([SPEC], {"app1": world.observe()}, START))
    assert (outcome.action, outcome.status) == (ActionKind.MINT, "done")
    [current] = world.vault.versions(SLOT.secret) or []
    [staged] = world.vault.versions(SLOT.pending_secret) or []
    assert current.tags[TAG_STAGE] == STAGE_CURRENT
    assert current.tags[TAG_MANAGED_BY] == MANAGED_BY
    assert current.tags[TAG_ROLES] == OPERATOR
    assert staged.tags[TAG_STAGE] == STAGE_PROMOTED
    assert world.iotc.verify_calls == 1  # the new token was verified before promotion


def test_a_fortnight_mints_managed_ids_and_revokes_after_grace() -> None:
    report = simulate(SPEC, START, days=14, roles=ROLES)
    assert report.ok
    mints = [e for e in report.events if e.kind == "mint+promote"]
    assert len(mints) >= 3  # 7-day tokens renewed at about 67 %
    assert all(parse_managed_id(e.token_id) is not None for e in mints)
    assert [e.kind for e in report.events if e.kind not in ("mint+promote", "revoke")] == []
    assert min(report.min_overlap.values()) >= SLOT.grace


def test_a_slot_whose_roles_tag_would_pass_the_tag_limit_rotates_with_a_digest() -> None:
    """Key Vault refuses a tag value over 256 characters: many role assignments are stored as a digest
    of their canonical text, and the rotation goes on (planner and audit read roles from the app)."""
    organizations = [f"plant-{n:02d}-north-europe" for n in range(8)]
    slot = SlotSpec(
        app="app1",
        slot="wide",
        secret="iotc-app1-wide",
        roles=tuple(SlotRole(OPERATOR, org) for org in organizations),
        lifetime=timedelta(days=7),
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=timedelta(days=90),
    )
    spec = AppSpec(name="app1", base_url=SPEC.base_url, vault=SPEC.vault, slots=(slot,))
    canonical = ",".join(sorted(f"{OPERATOR}@{org}" for org in organizations))
    assert len(canonical) > MAX_TAG_VALUE
    world = SimApp.new(spec, START, ROLES)
    [outcome] = world.run(plan_rotation([spec], {"app1": world.observe()}, START))
    assert (outcome.action, outcome.status) == (ActionKind.MINT, "done"), outcome
    [current] = world.vault.versions(slot.secret) or []
    assert current.tags[TAG_ROLES] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert current.tags[TAG_STAGE] == STAGE_CURRENT
    assert plan_rotation([spec], {"app1": world.observe()}, START + timedelta(hours=1)) == []  # not due again
    report = simulate(spec, START, days=14, roles=ROLES)
    assert report.ok
