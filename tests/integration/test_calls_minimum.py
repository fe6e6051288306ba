"""Calls at the protocol's minimum (docs/protocol.md, "Calls"), counted exactly by the emulators per route,
through the real clients: a never-minted slot, a due slot with a current token, a resumed staging, the
audit's observation, and a custom role (the only case that lists the roles)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from emulators.sandbox import RunningWorld
from emulators.sandbox.seed import ADMINISTRATOR, OPERATOR
from rotation.domain.model import AppSpec, RoleAssignment, SlotRole, SlotSpec
from rotation.domain.protocol import CONTENT_TYPE_API_TOKEN, STAGE_PENDING, token_tags
from rotation.domain.values import new_managed_id
from rotation.engine.jobs import run_job
from rotation.engine.observe import observe_app
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime

APP = "calls-minimum"
SLOTS = ("alpha", "beta")
Counts = dict[str, int]


def _slot(name: str, role: str = OPERATOR) -> SlotSpec:
    return SlotSpec(
        app=APP,
        slot=name,
        secret=f"iotc-{APP}-{name}",
        roles=(SlotRole(role),),
        lifetime=timedelta(days=30),
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=timedelta(days=90),
    )


@pytest.fixture
def spec(world: RunningWorld) -> AppSpec:
    app = world.world.iotcentral.add_app(APP)
    app.add_service_principal(
        "rotation-service",
        object_id=world.world.service.object_id,
        tenant_id=world.world.service.tenant_id,
        roles=[{"role": ADMINISTRATOR}],
    )
    app.add_device("truck-001")
    world.world.iotcentral.propagation_delay = timedelta(0)  # a new token works at once: one verification
    return AppSpec(APP, world.app_url(APP), world.vault_url, tuple(_slot(s) for s in SLOTS))


def _runtime(world: RunningWorld, spec: AppSpec, offset: timedelta = timedelta(0), concurrency: int = 4) -> Runtime:
    settings = Settings.from_env(
        {"ROTATION_CA_BUNDLE": str(world.ca.pem_path), "ROTATION_MAX_CONCURRENCY": str(concurrency)}
    )
    return Runtime(Settings(**{**settings.__dict__, "clock_offset": offset}), [spec])


def _counts(world: RunningWorld) -> Counts:
    """Requests per route, without Key Vault's 401 challenges: a client's first request is sent without a
    token to learn the vault's tenant (the SDK's business, once per client: `rotation.hosting.runtime`)."""
    snapshots = (world.world.iotcentral.counters.snapshot(), world.world.vault.counters.snapshot())
    return {
        r: sum(n for status, n in by.items() if status != "401")
        for snap in snapshots
        for r, by in snap.items()
        if not r.startswith("_emulator")
    }


@pytest.fixture
def counted(world: RunningWorld) -> list[Counts]:
    """The snapshots `_since` compares with (the last one)."""
    return [_counts(world)]


def _since(world: RunningWorld, marks: list[Counts]) -> Counts:
    now = _counts(world)
    diff = {r: n - marks[-1].get(r, 0) for r, n in now.items() if n - marks[-1].get(r, 0)}
    marks.append(now)
    return diff


def _rotate(world: RunningWorld, spec: AppSpec, offset: timedelta = timedelta(0), concurrency: int = 4) -> None:
    runtime = _runtime(world, spec, offset, concurrency)
    try:
        result = run_job(runtime, "rotate")
    finally:
        runtime.close()
    assert not result.failed, result.outcomes()


NEVER_MINTED = {
    "ApiTokens_List": 1,  # shared by the app's slots
    # each slot's secret and staging secret: [] (no managed token of the slot: neither confirmed by a GetSecret);
    # the staging secret may hold leftovers to abandon (docs/protocol.md, "Calls")
    "GetSecretVersions": 4,
    "ApiTokens_Create": 2,  # 1. mint
    "SetSecret": 4,  # 2. stage, 4. promote
    "Devices_List": 2,  # 3. verify the new token
    "UpdateSecret": 2,  # 6. finish (no previous version to retire)
}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_never_minted_slots_cost_the_minimum(
    world: RunningWorld, spec: AppSpec, counted: list[Counts], concurrency: int
) -> None:
    _rotate(world, spec, concurrency=concurrency)
    assert _since(world, counted) == NEVER_MINTED  # 15 calls: 7.5 per rotation
    _rotate(world, spec, concurrency=concurrency)  # nothing due: the reads, and each current token checked
    assert _since(world, counted) == {
        "ApiTokens_List": 1,
        "GetSecretVersions": 4,  # a first promotion does not show it finished: the staging secrets are read
        "GetSecret": 2,
        "Devices_List": 2,
    }


def test_a_due_slot_with_a_current_token_is_not_verified_before_its_replacement(
    world: RunningWorld, spec: AppSpec, counted: list[Counts]
) -> None:
    _rotate(world, spec)
    _since(world, counted)
    due = {
        "ApiTokens_List": 1,
        "GetSecretVersions": 2,  # every listed token is named by a version, the last promotion finished
        "ApiTokens_Create": 2,
        "SetSecret": 4,
        "Devices_List": 2,  # the new tokens only: the due current ones are replaced whatever they answer
        "UpdateSecret": 4,  # 5. finish, 6. the old version tagged previous
    }
    later = timedelta(days=25)  # past 67% of 30 days
    world.world.clock.advance(later)
    _rotate(world, spec, later)
    assert _since(world, counted) == {**due, "GetSecretVersions": 4}  # after a first promotion: + staging
    world.world.clock.advance(later)
    _rotate(world, spec, later * 2)
    assert _since(world, counted) == due


def test_a_resumed_staging_reads_what_it_needs_once(world: RunningWorld, spec: AppSpec, counted: list[Counts]) -> None:
    _rotate(world, spec)
    later = timedelta(hours=1)
    world.world.clock.advance(later)
    runtime = _runtime(world, spec, later)
    try:  # a run that stopped right after staging alpha's next token (steps 1-2)
        alpha = spec.slots[0]
        now = world.world.clock.now()
        token, value = runtime.iotcentral(spec).create_token(
            new_managed_id("alpha", now, random.SystemRandom()),
            frozenset({RoleAssignment(OPERATOR)}),
            now + alpha.lifetime,
        )
        tags = token_tags(app=APP, slot="alpha", token_id=token.id, roles=token.roles, stage=STAGE_PENDING)
        runtime.vault(spec.vault).set_value(
            alpha.pending_secret, value, tags=tags, expires_on=token.expiry, content_type=CONTENT_TYPE_API_TOKEN
        )
    finally:
        runtime.close()
    _since(world, counted)
    _rotate(world, spec, later)
    assert _since(world, counted) == {
        "ApiTokens_List": 1,
        "GetSecretVersions": 4,  # both secrets and their staging (after a first promotion; alpha's also
        # because the app lists a token no version names)
        "GetSecret": 2,  # the staged value (resume), beta's current value (its check)
        "Devices_List": 2,  # the staged token verified, beta's current checked
        "SetSecret": 1,  # 4. promote
        "UpdateSecret": 2,  # 5. retire the old, 6. finish
    }


def test_the_audit_observation(world: RunningWorld, spec: AppSpec, counted: list[Counts]) -> None:
    _rotate(world, spec)
    later = timedelta(days=25)
    world.world.clock.advance(later)
    _rotate(world, spec, later)
    _since(world, counted)
    runtime = _runtime(world, spec, later)
    try:
        state = observe_app(spec, runtime.iotcentral(spec), runtime.vault(spec.vault), verify_current=True)
    finally:
        runtime.close()
    assert state.complete
    assert set(state.checks) == set(SLOTS)
    assert _since(world, counted) == {
        "ApiTokens_List": 1,
        "Roles_List": 1,  # the audit shows and judges roles by their display names
        "GetSecretVersions": 2,
        "GetSecret": 2,
        "Devices_List": 2,
    }


def test_a_custom_role_is_resolved_with_one_roles_listing(world: RunningWorld, counted: list[Counts]) -> None:
    app = world.world.iotcentral.add_app(APP)
    app.add_service_principal(
        "rotation-service",
        object_id=world.world.service.object_id,
        tenant_id=world.world.service.tenant_id,
        roles=[{"role": ADMINISTRATOR}],
    )
    app.add_device("truck-001")
    app.add_role("Fleet Reader", {"devices.read"})
    world.world.iotcentral.propagation_delay = timedelta(0)
    spec = AppSpec(APP, world.app_url(APP), world.vault_url, (_slot("alpha", "Fleet Reader"),))
    _since(world, counted)
    _rotate(world, spec)
    assert _since(world, counted) == {
        "ApiTokens_List": 1,
        "Roles_List": 1,
        "GetSecretVersions": 2,
        "ApiTokens_Create": 1,
        "SetSecret": 2,
        "Devices_List": 1,
        "UpdateSecret": 1,
    }
