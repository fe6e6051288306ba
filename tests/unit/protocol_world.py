"""The world of the stateful protocol test: one IoT Central app and two vaults in memory (`rotation.engine.memory`),
a shared clock, and a run exactly as `rotation.jobs.run_job` makes it (observe -> plan -> the real executor).

Also the truth the invariants are judged on: what the vault really holds (live or soft-deleted), never
what a lying listing said.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from rotation.domain.model import (
    AppSpec,
    AppState,
    RoleAssignment,
    SecretVersion,
    SlotRole,
    SlotSpec,
    SlotState,
)
from rotation.domain.protocol import (
    STAGE_PREVIOUS,
    STAGE_REVOKED,
)
from rotation.engine.actions import Action, Blocked
from rotation.engine.executor import AppExecutor, Outcome, VerifyPolicy
from rotation.engine.memory import InMemoryIoTCentral, InMemoryVault, ManualClock
from rotation.engine.observe import observe_app
from rotation.engine.planner import plan_revocation, plan_rotation

Job = Literal["rotate", "revoke"]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
BUILDER = "344138e9-8de4-4497-8c54-5237e96d6aaf"
READER = "0c0ffee0-1111-4222-8333-444455556666"  # a custom role, named in policies by its display name
APP_ROLES = {OPERATOR: "Operator", BUILDER: "Builder", READER: "Device Reader"}
ROLE_CHOICES: dict[str, tuple[SlotRole, ...]] = {
    "operator": (SlotRole(OPERATOR),),
    "builder": (SlotRole("Builder"),),
    "reader": (SlotRole("device reader"),),
    "ghost": (SlotRole("Ghost"),),  # no such role in the app: the slot is Blocked
}
LIFETIMES = (timedelta(days=1), timedelta(days=7), timedelta(days=30))
VAULTS = ("https://kv-one.vault.azure.net", "https://kv-two.vault.azure.net")
SLOTS = ("s0", "s1")
SECRETS = {"s0": ("iotc-app1-s0", "iotc-app1-s0-moved"), "s1": ("iotc-app1-s1", "iotc-app1-s1-moved")}
GRACE = {"s0": timedelta(hours=6), "s1": timedelta(hours=1)}  # both within (1 - renew_at) of the shortest lifetime
WINDOW = timedelta(hours=1)
BASE_URL = "https://app1.azureiotcentral.com"


def slot_spec(slot: str) -> SlotSpec:
    return SlotSpec(
        app="app1",
        slot=slot,
        secret=SECRETS[slot][0],
        roles=ROLE_CHOICES["operator"],
        lifetime=LIFETIMES[1],
        renew_at=0.67,
        grace=GRACE[slot],
        max_lifetime=timedelta(days=90),
    )


def initial_spec() -> AppSpec:
    return AppSpec(
        name="app1",
        base_url=BASE_URL,
        vault=VAULTS[0],
        slots=tuple(slot_spec(s) for s in SLOTS),
        orphan_safety_window=WINDOW,
    )


def _no_sleep(_: float) -> None:
    """Verification retries without waiting: in memory a token works at once or never."""


@dataclass
class World:
    clock: ManualClock
    iotc: InMemoryIoTCentral
    vaults: dict[str, InMemoryVault]

    @classmethod
    def new(cls) -> World:
        clock = ManualClock(START)
        iotc = InMemoryIoTCentral(BASE_URL, clock, dict(APP_ROLES), random.Random(1))  # noqa: S311
        vaults = {url: InMemoryVault(url, clock, random.Random(i)) for i, url in enumerate(VAULTS)}  # noqa: S311
        iotc.add_token("human-admin", frozenset({RoleAssignment(OPERATOR)}), START + timedelta(days=365))
        return cls(clock, iotc, vaults)

    def copy(self) -> World:
        """A twin to replay a run on with the truth (no knobs, no observers)."""
        clock = self.clock.copy()
        return World(clock, self.iotc.copy(clock), {url: v.copy(clock) for url, v in self.vaults.items()})


@dataclass
class Run:
    job: Job
    state: AppState
    planned: list[Action]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.state.complete and all(o.status != "failed" for o in self.outcomes)

    def blocked(self, slot: str) -> bool:
        return any(isinstance(a, Blocked) and a.slot in (slot, None) for a in self.planned)

    def summary(self) -> str:
        lines = [f"{self.job}: {type(a).__name__}({getattr(a, 'slot', None)}) {a.reason}" for a in self.planned]
        lines += [f"  -> {o.action} {o.status} {o.detail}" for o in self.outcomes if o.status != "done"]
        return "\n".join(lines) or f"{self.job}: nothing planned"


def plan(job: Job, spec: AppSpec, world: World) -> Run:
    state = observe_app(spec, world.iotc, world.vaults[spec.vault])
    now = world.clock.now()
    planned: list[Action] = list(
        plan_rotation([spec], {spec.name: state}, now)
        if job == "rotate"
        else plan_revocation([spec], {spec.name: state}, now)
    )
    return Run(job, state, planned)


def run(job: Job, spec: AppSpec, world: World, seed: int) -> Run:
    """One app's run as `run_job` makes it (lock aside): observe, plan, apply with the real executor."""
    done = plan(job, spec, world)
    executor = AppExecutor(
        spec,
        world.iotc,
        world.vaults[spec.vault],
        world.clock.now,
        random.Random(seed),  # noqa: S311
        VerifyPolicy(sleep=_no_sleep),
    )
    done.outcomes = executor.run(done.planned)
    return done


# -- the truth -------------------------------------------------------------------------------------------
def versions(world: World, spec: AppSpec, name: str, *, with_deleted: bool = False) -> list[SecretVersion]:
    """A declared secret's versions as the vault really holds them; a soft-deleted secret's when asked (a
    recovery brings them back, so consumers may still read them)."""
    vault = world.vaults[spec.vault]
    live = vault.versions(name)
    if live is None and with_deleted:
        live = vault.deleted_versions(name)
    return live or []


def protected(world: World, spec: AppSpec) -> dict[str, str]:
    """Tokens no run may delete now (unless expired: then no consumer can use them anyway): the current
    version's token of every declared slot secret (live or soft-deleted), and the token of any superseded
    version (`previous`, or `revoked` early) still within grace, enabled or not. Token id -> why."""
    now = world.clock.now()
    found: dict[str, str] = {}
    for slot in spec.slots:
        held = versions(world, spec, slot.secret, with_deleted=True)
        current = SlotState(tuple(held)).current
        for v in held:
            superseded = v.superseded_at or v.created_on
            if v.token_id and v.stage in (STAGE_PREVIOUS, STAGE_REVOKED) and superseded + slot.grace > now:
                found[v.token_id] = (
                    f"{v.stage} version of {slot.secret} within grace (superseded {superseded}, "
                    f"{'enabled' if v.enabled else 'disabled'})"
                )
        if current is not None and current.token_id:
            found[current.token_id] = f"current version of {slot.secret}" + (
                " (soft-deleted secret)" if world.vaults[spec.vault].is_deleted(slot.secret) else ""
            )
    return found


def referenced(world: World, spec: AppSpec) -> set[str]:
    """Token ids any version (any stage, enabled or not) of a declared secret or staging secret names."""
    names = [n for s in spec.slots for n in (s.secret, s.pending_secret)]
    return {v.token_id for n in names for v in versions(world, spec, n) if v.token_id}


def all_declared_exist(world: World, spec: AppSpec) -> bool:
    vault = world.vaults[spec.vault]
    return all(vault.versions(n) is not None for s in spec.slots for n in (s.secret, s.pending_secret))
