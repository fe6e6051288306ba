"""`rotation simulate`: the planner and the real executor run over time against the in-memory ports.

There is one implementation of the protocol, `rotation.engine.executor`: the simulator drives it over
`rotation.engine.memory` (one app and its vault on a manual clock) exactly as a job does (observe → plan →
execute), so what a person simulates over a year of their own policy, and what hypothesis checks
(re-plan after apply is empty; overlap >= grace; never a gap without a valid current token), is what
the service does.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rotation.domain.model import AppSpec, AppState, SecretVersion
from rotation.engine.actions import Action, ActionKind, DeleteToken, Revoke
from rotation.engine.executor import AppExecutor, Outcome, VerifyPolicy
from rotation.engine.memory import InMemoryIoTCentral, InMemoryVault, ManualClock
from rotation.engine.observe import observe_app
from rotation.engine.planner import plan_revocation, plan_rotation


def _no_sleep(_: float) -> None:
    """In memory a new token works at once or never: verification retries need no wait."""


@dataclass
class SimApp:
    """One app and its vault in memory, on one clock, worked on by the real executor."""

    spec: AppSpec
    clock: ManualClock
    iotc: InMemoryIoTCentral
    vault: InMemoryVault
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 -- simulated ids

    @classmethod
    def new(cls, spec: AppSpec, start: datetime, roles: Mapping[str, str], seed: int = 0) -> SimApp:
        clock = ManualClock(start)
        iotc = InMemoryIoTCentral(spec.base_url, clock, dict(roles), random.Random(seed))  # noqa: S311
        vault = InMemoryVault(spec.vault, clock, random.Random(seed + 1))  # noqa: S311
        return cls(spec, clock, iotc, vault, random.Random(seed + 2))  # noqa: S311

    def observe(self) -> AppState:
        return observe_app(self.spec, self.iotc, self.vault)

    def run(self, actions: Sequence[Action]) -> list[Outcome]:
        executor = AppExecutor(
            self.spec, self.iotc, self.vault, self.clock.now, self.rng, VerifyPolicy(attempts=1, sleep=_no_sleep)
        )
        return executor.run(actions)


@dataclass(frozen=True)
class SimEvent:
    at: datetime
    slot: str | None
    kind: str
    token_id: str
    reason: str


@dataclass
class SimReport:
    events: list[SimEvent]
    min_overlap: dict[str, timedelta]
    gaps: dict[str, list[tuple[datetime, datetime]]]

    @property
    def ok(self) -> bool:
        return not any(self.gaps.values())


def _rotate(world: SimApp, report: SimReport) -> None:
    """One rotate run: a done Mint is a `mint+promote` event, and the old token's remaining life is the
    overlap consumers get; a failed action is a `failed` event."""
    now = world.clock.now()
    state = world.observe()
    before: dict[str, SecretVersion | None] = {s.slot: state.slots[s.slot].current for s in world.spec.slots}
    actions = plan_rotation([world.spec], {world.spec.name: state}, now)
    outcomes = world.run(actions)
    after = world.observe()
    tokens = world.iotc.tokens()
    for outcome in outcomes:
        if outcome.status == "failed":
            report.events.append(SimEvent(now, outcome.slot, "failed", "?", f"{outcome.reason}: {outcome.detail}"))
        if outcome.action != ActionKind.MINT or outcome.status != "done" or outcome.slot is None:
            continue
        current = after.slots[outcome.slot].current
        report.events.append(
            SimEvent(
                now,
                outcome.slot,
                "mint+promote",
                current.token_id if current and current.token_id else "?",
                outcome.reason,
            )
        )
        old = before[outcome.slot]
        old_token = tokens.get(old.token_id or "") if old else None
        if old_token is not None and old_token.expiry is not None:
            overlap = old_token.expiry - now
            report.min_overlap[outcome.slot] = min(report.min_overlap.get(outcome.slot, overlap), overlap)


def _revoke(world: SimApp, report: SimReport) -> None:
    now = world.clock.now()
    actions = plan_revocation([world.spec], {world.spec.name: world.observe()}, now)
    for action, outcome in zip(actions, world.run(actions), strict=True):
        token_id = action.token_id if isinstance(action, Revoke | DeleteToken) else None
        kind = action.kind.value.lower() if outcome.status != "failed" else "failed"
        report.events.append(SimEvent(now, action.slot, kind, token_id or "?", action.reason))


def _record_gaps(world: SimApp, report: SimReport, step: timedelta) -> None:
    now = world.clock.now()
    state = world.observe()
    for slot_spec in world.spec.slots:
        current = state.slots[slot_spec.slot].current
        token = state.token(current.token_id or "") if current else None
        if token is None or (token.expiry is not None and token.expiry <= now):
            report.gaps[slot_spec.slot].append((now, now + step))


def simulate(
    spec: AppSpec, start: datetime, days: int, step: timedelta = timedelta(hours=1), roles: dict[str, str] | None = None
) -> SimReport:
    """Run rotate then revoke every `step` for `days`, from an empty app; record what happens."""
    world = SimApp.new(spec, start, roles or {})
    report = SimReport([], {}, {s.slot: [] for s in spec.slots})
    end = start + timedelta(days=days)
    while world.clock.now() <= end:
        _rotate(world, report)
        _revoke(world, report)
        _record_gaps(world, report, step)
        world.clock.advance(step)
    return report
