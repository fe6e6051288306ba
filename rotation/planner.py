"""The pure core: from what is declared and what is observed, decide what to do and say why.

`plan_rotation` and `plan_revocation` never touch the network; the executor applies their actions.
Re-planning after a successful apply yields nothing, and no plan ever revokes a slot's current token
(hypothesis checks both). Incomplete observations fail closed: no revocation, a `Blocked` action.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from rotation.actions import (
    AbandonPending,
    Blocked,
    DeleteToken,
    FinishPromotion,
    MarkSuperseded,
    Mint,
    ResumePending,
    Revoke,
    RevokeAction,
    RotateAction,
)
from rotation.model import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    AppSpec,
    AppState,
    RoleAssignment,
    SlotSpec,
    SlotState,
)
from rotation.values import parse_managed_id


def created_from_id(token_id: str) -> datetime | None:
    """Managed ids carry their creation time (the API returns none)."""
    parsed = parse_managed_id(token_id)
    return parsed[1] if parsed else None


def jitter_offset(app: str, slot: str, jitter: float) -> float:
    """A fraction in [0, jitter) fixed per slot, so renewals spread out but stay reproducible."""
    digest = hashlib.sha256(f"{app}/{slot}".encode()).digest()
    return jitter * (int.from_bytes(digest[:4], "big") / 2**32)


def resolve_roles(spec: SlotSpec, app_roles: Mapping[str, str]) -> frozenset[RoleAssignment] | str:
    """Policy role references as role ids, or the reason they cannot be resolved."""
    by_name = {name.casefold(): role_id for role_id, name in app_roles.items()}
    resolved: set[RoleAssignment] = set()
    for ref in spec.roles:
        if ref.ref in app_roles or (not app_roles and _is_guid(ref.ref)):
            role_id = ref.ref
        elif ref.ref.casefold() in by_name:
            role_id = by_name[ref.ref.casefold()]
        else:
            known = ", ".join(sorted(app_roles.values())) or "none listed"
            return f"role {ref.ref!r}: got no such role in the app, expected one of: {known}"
        resolved.add(RoleAssignment(role_id, ref.organization))
    return frozenset(resolved)


def _is_guid(value: str) -> bool:
    return re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value) is not None


def roles_drift(want: frozenset[RoleAssignment], have: frozenset[RoleAssignment],
                names: Mapping[str, str]) -> str | None:
    added = sorted(r.label(names) for r in want - have)
    removed = sorted(r.label(names) for r in have - want)
    if not added and not removed:
        return None
    return "roles drift: " + " ".join([*(f"+{a}" for a in added), *(f"-{r}" for r in removed)])


def due_reason(spec: SlotSpec, state: AppState, slot: SlotState, want: frozenset[RoleAssignment],
               now: datetime) -> str | None:
    """Why the slot needs a new token now, or None. Uses the *declared* lifetime, so a service that
    ignores the requested expiry (undocumented) cannot cause endless re-minting."""
    current = slot.current
    if current is None or current.token_id is None:
        return "no current token"
    token = state.token(current.token_id)
    if token is None:
        return f"missing from app: {current.token_id}"
    drift = roles_drift(want, token.roles, state.roles)
    if drift:
        return drift
    created = created_from_id(token.id) or current.created_on
    expiry = min(e for e in (token.expiry, current.expires_on, created + spec.lifetime) if e is not None)
    if expiry <= now:
        return f"expired at {expiry:%Y-%m-%d %H:%M} UTC"
    lifetime = expiry - created
    used = (now - created) / lifetime if lifetime > timedelta(0) else 1.0
    threshold = spec.renew_at - jitter_offset(spec.app, spec.slot, spec.jitter)
    if used >= threshold:
        return f"due: {used:.0%} of lifetime (renew at {threshold:.0%})"
    return None


def _plan_pending(spec: SlotSpec, state: AppState, slot: SlotState,
                  want: frozenset[RoleAssignment]) -> tuple[list[RotateAction], bool]:
    """Repair what an interrupted run left in the staging secret. Returns (actions, resumed)."""
    actions: list[RotateAction] = []
    current = slot.current
    resumed = False
    for pending in sorted((p for p in slot.pending if p.stage == STAGE_PENDING), key=lambda p: p.created_on):
        token = state.token(pending.token_id) if pending.token_id else None
        token_exists = token is not None
        if current is not None and pending.token_id == current.token_id:
            actions.append(FinishPromotion(spec.app, spec.slot, "promotion finished before the run stopped",
                                           pending.version, pending.tags))
        elif (token is not None and token.roles == want and not resumed
              and (current is None or pending.created_on > current.created_on)):
            actions.append(ResumePending(spec.app, spec.slot, "staged by an interrupted run",
                                         pending.version, token.id, pending.tags))
            resumed = True
        else:
            why = ("its token is not in the app" if token is None
                   else "its roles differ from the policy" if token.roles != want
                   else "superseded by a newer token")
            actions.append(AbandonPending(spec.app, spec.slot, f"staged token abandoned: {why}",
                                          pending.version, pending.token_id, token_exists, pending.tags))
    return actions, resumed


def _plan_stale_currents(spec: SlotSpec, slot: SlotState) -> list[RotateAction]:
    current = slot.current
    if current is None:
        return []
    return [MarkSuperseded(spec.app, spec.slot, "older version still tagged current", v.version,
                           current.created_on, v.tags)
            for v in slot.versions
            if v.stage == STAGE_CURRENT and v.enabled and v.version != current.version]


def _fail_closed(app: AppSpec, state: AppState | None, what: str) -> Blocked:
    why = "; ".join(state.errors) if state and state.errors else "state could not be read completely"
    return Blocked(app.name, None, f"{what}: {why}")


def plan_rotation(apps: Sequence[AppSpec], observed: Mapping[str, AppState], now: datetime,
                  forced: Iterable[tuple[str, str]] = ()) -> list[RotateAction]:
    forced_slots = set(forced)
    actions: list[RotateAction] = []
    for app in apps:
        state = observed.get(app.name)
        if state is None or not state.complete:
            actions.append(_fail_closed(app, state, "not rotated"))
            continue
        for spec in app.slots:
            slot = state.slots.get(spec.slot, SlotState())
            want = resolve_roles(spec, state.roles)
            if isinstance(want, str):
                actions.append(Blocked(app.name, spec.slot, want))
                continue
            pending_actions, resumed = _plan_pending(spec, state, slot, want)
            actions.extend(pending_actions)
            actions.extend(_plan_stale_currents(spec, slot))
            if resumed:
                continue
            reason = "forced by an operator" if (app.name, spec.slot) in forced_slots else None
            reason = reason or due_reason(spec, state, slot, want, now)
            if reason:
                current = slot.current
                actions.append(Mint(app.name, spec.slot, reason, want, current.token_id if current else None))
    return actions


def plan_revocation(apps: Sequence[AppSpec], observed: Mapping[str, AppState], now: datetime) -> list[RevokeAction]:
    actions: list[RevokeAction] = []
    for app in apps:
        state = observed.get(app.name)
        if state is None or not state.complete:
            actions.append(_fail_closed(app, state, "nothing revoked (fail closed)"))
            continue
        actions.extend(_plan_app_revocation(app, state, now))
    return actions


def _plan_app_revocation(app: AppSpec, state: AppState, now: datetime) -> list[RevokeAction]:
    actions: list[RevokeAction] = []
    protected: set[str] = set()
    currents: set[str] = set()
    for spec in app.slots:
        slot = state.slots.get(spec.slot, SlotState())
        if slot.current and slot.current.token_id:
            currents.add(slot.current.token_id)
        protected |= {v.token_id for v in slot.versions
                      if v.token_id and v.enabled and v.stage in (STAGE_CURRENT, STAGE_PREVIOUS)}
        protected |= {p.token_id for p in slot.pending if p.token_id and p.stage == STAGE_PENDING}
    for spec in app.slots:
        slot = state.slots.get(spec.slot, SlotState())
        for version in slot.versions:
            if version.stage != STAGE_PREVIOUS or not version.enabled or version.token_id in currents:
                continue
            reason = _revoke_reason(spec, state, version.token_id, version.superseded_at or version.created_on, now)
            if reason:
                actions.append(Revoke(app.name, spec.slot, reason, version.version, version.token_id, version.tags))
    allowed = {a.token_id for a in app.allow_unmanaged if a.until >= now.date()}
    for token in state.tokens or ():
        if token.id in currents or token.id in protected:
            continue
        if token.managed:
            created = created_from_id(token.id)
            if token.expiry is not None and token.expiry <= now:
                actions.append(DeleteToken(app.name, f"managed token expired at {token.expiry:%Y-%m-%d %H:%M} UTC",
                                           token.id, "expired"))
            elif created is not None and now - created >= app.orphan_safety_window:
                age = now - created
                actions.append(DeleteToken(app.name, f"orphan: no vault version references it (age {_days(age)})",
                                           token.id, "orphan"))
        elif app.remove_unmanaged and token.id not in allowed:
            actions.append(DeleteToken(app.name, "unmanaged and not allowlisted (remove_unmanaged: true)",
                                       token.id, "unmanaged"))
    return actions


def _revoke_reason(spec: SlotSpec, state: AppState, token_id: str | None, superseded_at: datetime,
                   now: datetime) -> str | None:
    token = state.token(token_id) if token_id else None
    if token is None:
        return "superseded token already gone from the app"
    if token.expiry is not None and token.expiry <= now:
        return f"superseded token expired at {token.expiry:%Y-%m-%d %H:%M} UTC"
    if superseded_at + spec.grace <= now:
        return f"grace period {_days(spec.grace)} over (superseded {superseded_at:%Y-%m-%d %H:%M} UTC)"
    return None


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.0f}h"
