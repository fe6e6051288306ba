"""`rotation simulate`: the pure planner run over time against an in-memory model of an app and its vault.

`SimWorld` applies actions with the semantics the executor implements against the real services, so the
planner's invariants (re-plan after apply is empty; overlap >= grace; never a gap without a valid current
token) can be checked -- by hypothesis in the tests, and by a person over a year of their own policy.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rotation.domain.model import (
    AppSpec,
    AppState,
    AppToken,
    SecretVersion,
    SlotSpec,
    SlotState,
)
from rotation.domain.protocol import (
    STAGE_ABANDONED,
    STAGE_CURRENT,
    STAGE_PREVIOUS,
    STAGE_PROMOTED,
    STAGE_REVOKED,
    TAG_STAGE,
    TAG_SUPERSEDED_AT,
    TAG_TOKEN_ID,
)
from rotation.engine.actions import (
    AbandonPending,
    Action,
    Blocked,
    DeleteToken,
    FinishPromotion,
    MarkSuperseded,
    Mint,
    ResumePending,
    Revoke,
)
from rotation.engine.planner import plan_revocation, plan_rotation

_counter = itertools.count()  # unique version ids and token suffixes


@dataclass
class SimWorld:
    spec: AppSpec
    tokens: dict[str, AppToken] = field(default_factory=dict)
    versions: dict[str, list[SecretVersion]] = field(default_factory=dict)  # secret name -> versions
    roles: dict[str, str] = field(default_factory=dict)

    def observe(self) -> AppState:
        slots = {s.slot: SlotState(tuple(self.versions.get(s.secret, [])),
                                   tuple(self.versions.get(s.pending_secret, [])))
                 for s in self.spec.slots}
        return AppState(self.spec.name, tuple(self.tokens.values()), self.roles, slots)

    def _slot(self, name: str) -> SlotSpec:
        return next(s for s in self.spec.slots if s.slot == name)

    def _retag(self, secret: str, version: str, **tags: str) -> SecretVersion:
        items = self.versions[secret]
        for i, v in enumerate(items):
            if v.version == version:
                new = replace(v, tags={**v.tags, **tags})
                items[i] = new
                return new
        raise KeyError(version)

    def _add(self, secret: str, created: datetime, expires: datetime | None, **tags: str) -> SecretVersion:
        version = SecretVersion(secret, f"v{next(_counter):06d}", created, True, expires, tags)
        self.versions.setdefault(secret, []).append(version)
        return version

    def _promote(self, slot_name: str, token_id: str, now: datetime) -> None:
        spec = self._slot(slot_name)
        old = SlotState(tuple(self.versions.get(spec.secret, []))).current
        self._add(spec.secret, now, self.tokens[token_id].expiry, **{TAG_STAGE: STAGE_CURRENT, TAG_TOKEN_ID: token_id})
        if old is not None:
            self._retag(spec.secret, old.version, **{TAG_STAGE: STAGE_PREVIOUS, TAG_SUPERSEDED_AT: now.isoformat()})

    def apply(self, actions: Sequence[Action], now: datetime) -> None:
        for action in actions:
            self.apply_one(action, now)

    def apply_one(self, action: Action, now: datetime) -> None:
        if isinstance(action, Mint):
            spec = self._slot(action.slot)
            token_id = f"rot-{spec.slot}-{now:%Y%m%d%H%M%S}-{next(_counter) % 10000:04d}"
            self.tokens[token_id] = AppToken(token_id, action.roles, now + spec.lifetime)
            pending = self._add(spec.pending_secret, now, None, **{TAG_STAGE: "pending", TAG_TOKEN_ID: token_id})
            self._promote(spec.slot, token_id, now)
            self._retag(spec.pending_secret, pending.version, **{TAG_STAGE: STAGE_PROMOTED})
        elif isinstance(action, ResumePending):
            self._promote(action.slot, action.token_id, now)
            self._retag(self._slot(action.slot).pending_secret, action.version, **{TAG_STAGE: STAGE_PROMOTED})
        elif isinstance(action, AbandonPending):
            if action.token_id:
                self.tokens.pop(action.token_id, None)
            self._retag(self._slot(action.slot).pending_secret, action.version, **{TAG_STAGE: STAGE_ABANDONED})
        elif isinstance(action, FinishPromotion):
            self._retag(self._slot(action.slot).pending_secret, action.version, **{TAG_STAGE: STAGE_PROMOTED})
        elif isinstance(action, MarkSuperseded):
            self._retag(self._slot(action.slot).secret, action.version,
                        **{TAG_STAGE: STAGE_PREVIOUS, TAG_SUPERSEDED_AT: action.superseded_at.isoformat()})
        elif isinstance(action, Revoke):
            if action.token_id:
                self.tokens.pop(action.token_id, None)
            secret = self._slot(action.slot).secret
            retagged = self._retag(secret, action.version, **{TAG_STAGE: STAGE_REVOKED})
            items = self.versions[secret]
            items[items.index(retagged)] = replace(retagged, enabled=False)
        elif isinstance(action, DeleteToken):
            self.tokens.pop(action.token_id, None)
        elif isinstance(action, Blocked):
            pass


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


def simulate(spec: AppSpec, start: datetime, days: int, step: timedelta = timedelta(hours=1),
             roles: dict[str, str] | None = None) -> SimReport:
    """Run rotate then revoke every `step` for `days`, from an empty app; record what happens."""
    world = SimWorld(spec=spec, roles=dict(roles or {}))
    events: list[SimEvent] = []
    min_overlap: dict[str, timedelta] = {}
    gaps: dict[str, list[tuple[datetime, datetime]]] = {s.slot: [] for s in spec.slots}
    now = start
    while now <= start + timedelta(days=days):
        before = {s.slot: world.observe().slots[s.slot].current for s in spec.slots}
        for action in plan_rotation([spec], {spec.name: world.observe()}, now):
            world.apply_one(action, now)
            if isinstance(action, Mint):
                current = world.observe().slots[action.slot].current
                new_id = current.token_id if current and current.token_id else "?"
                events.append(SimEvent(now, action.slot, "mint+promote", new_id, action.reason))
                old = before[action.slot]
                old_token = world.tokens.get(old.token_id or "") if old else None
                if old_token is not None and old_token.expiry is not None:
                    overlap = old_token.expiry - now
                    min_overlap[action.slot] = min(min_overlap.get(action.slot, overlap), overlap)
        for revocation in plan_revocation([spec], {spec.name: world.observe()}, now):
            token_id = getattr(revocation, "token_id", None) or "?"
            world.apply_one(revocation, now)
            events.append(SimEvent(now, getattr(revocation, "slot", None), type(revocation).__name__.lower(),
                                   token_id, revocation.reason))
        state = world.observe()
        for slot_spec in spec.slots:
            current = state.slots[slot_spec.slot].current
            token = state.token(current.token_id or "") if current else None
            if token is None or (token.expiry is not None and token.expiry <= now):
                gaps[slot_spec.slot].append((now, now + step))
        now += step
    return SimReport(events, min_overlap, gaps)
