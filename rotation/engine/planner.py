"""The pure core: from what is declared and what is observed, decide what to do and say why.

`plan_rotation` and `plan_revocation` never touch the network; the executor applies their actions.
Re-planning after a successful apply yields nothing, and no plan ever revokes a slot's current token
(hypothesis checks both). Incomplete observations fail closed: no revocation, a `Blocked` action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from rotation.domain.assignments import resolve_roles, roles_drift
from rotation.domain.lifecycle import renewal
from rotation.domain.model import (
    AppSpec,
    AppState,
    AppToken,
    RoleAssignment,
    SecretVersion,
    SlotSpec,
    SlotState,
)
from rotation.domain.protocol import STAGE_CURRENT, STAGE_PENDING
from rotation.engine.actions import (
    AbandonPending,
    Blocked,
    FinishPromotion,
    MarkSuperseded,
    Mint,
    ResumePending,
    RevokeAction,
    RotateAction,
)
from rotation.engine.revocation import plan_app_revocation


def due_reason(
    spec: SlotSpec, state: AppState, slot: SlotState, want: frozenset[RoleAssignment], now: datetime
) -> str | None:
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
    check = state.checks.get(spec.slot)
    if check is not None and check.refused and check.token_id == token.id:
        return f"current token fails verification ({check.error})"
    return renewal_reason(spec, token, current, now)


def renewal_reason(spec: SlotSpec, token: AppToken, version: SecretVersion, now: datetime) -> str | None:
    """Expired, or past the renewal point (`renew_at` of its lifetime, minus the slot's jitter)."""
    schedule = renewal(spec, token, version)
    if schedule.expiry <= now:
        return f"expired at {schedule.expiry:%Y-%m-%d %H:%M} UTC"
    used = schedule.used(now)
    if used >= schedule.threshold:
        return f"due: {used:.0%} of lifetime (renew at {schedule.threshold:.0%})"
    return None


def _plan_pending(
    spec: SlotSpec, state: AppState, slot: SlotState, want: frozenset[RoleAssignment], now: datetime
) -> tuple[list[RotateAction], bool]:
    """Repair what an interrupted run left in the staging secret. Returns (actions, resumed).

    A staged token that any version of the slot's secret references was promoted (the run stopped before
    tagging the staging version): it is only marked promoted, never deleted. At most one staged token is
    resumed; a token id staged twice (a retried write) is abandoned without deleting the token it shares."""
    promoted = {v.token_id for v in slot.versions if v.token_id}
    staged = sorted((p for p in slot.pending if p.stage == STAGE_PENDING), key=lambda p: p.created_on)
    resume = _resume_candidate(spec, staged, state, current=slot.current, want=want, promoted=promoted, now=now)
    keep = promoted | ({resume.token_id} if resume is not None and resume.token_id else set())
    actions: list[RotateAction] = []
    for pending in staged:
        if pending.token_id in promoted:
            actions.append(
                FinishPromotion(
                    spec.app, spec.slot, "promotion finished before the run stopped", pending.version, pending.tags
                )
            )
        elif pending is resume:
            actions.append(
                ResumePending(
                    spec.app,
                    spec.slot,
                    "staged by an interrupted run",
                    pending.version,
                    str(pending.token_id),
                    pending.tags,
                )
            )
        else:
            token = state.token(pending.token_id) if pending.token_id else None
            why = (
                "its token is not in the app"
                if token is None
                else "its roles differ from the policy"
                if token.roles != want
                else f"its token is {stale}"
                if (stale := renewal_reason(spec, token, pending, now))
                else "superseded by a newer token"
            )
            deletable = token is not None and pending.token_id not in keep
            actions.append(
                AbandonPending(
                    spec.app,
                    spec.slot,
                    f"staged token abandoned: {why}",
                    pending.version,
                    pending.token_id,
                    deletable,
                    pending.tags,
                )
            )
    return actions, resume is not None


def _resume_candidate(
    spec: SlotSpec,
    staged: Sequence[SecretVersion],
    state: AppState,
    *,
    current: SecretVersion | None,
    want: frozenset[RoleAssignment],
    promoted: set[str],
    now: datetime,
) -> SecretVersion | None:
    """The newest staged version whose token is in the app with the wanted roles, newer than current, and
    neither expired nor already due (promoting it would only call for another mint)."""
    for pending in reversed(staged):
        token = state.token(pending.token_id) if pending.token_id else None
        if (
            token is not None
            and token.roles == want
            and pending.token_id not in promoted
            and (current is None or pending.created_on > current.created_on)
            and renewal_reason(spec, token, pending, now) is None
        ):
            return pending
    return None


def _plan_stale_currents(spec: SlotSpec, slot: SlotState) -> list[RotateAction]:
    current = slot.current
    if current is None:
        return []
    return [
        MarkSuperseded(spec.app, spec.slot, "older version still tagged current", v.version, current.created_on, v.tags)
        for v in slot.versions
        if v.stage == STAGE_CURRENT and v.enabled and v.version != current.version
    ]


def _fail_closed(app: AppSpec, state: AppState | None, what: str) -> Blocked:
    why = "; ".join(state.errors) if state and state.errors else "state could not be read completely"
    return Blocked(app.name, None, f"{what}: {why}")


def plan_rotation(
    apps: Sequence[AppSpec], observed: Mapping[str, AppState], now: datetime, forced: Iterable[tuple[str, str]] = ()
) -> list[RotateAction]:
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
            pending_actions, resumed = _plan_pending(spec, state, slot, want, now)
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


def replaced_anyway(
    app: AppSpec, state: AppState, now: datetime, forced: Iterable[tuple[str, str]] = ()
) -> frozenset[str]:
    """The slots whose current token the rotation replaces whatever a check of it says (a mint or a resumed
    staging is planned without one): rotate does not verify those (a refused check only adds a reason)."""
    planned = plan_rotation([app], {app.name: state}, now, forced)
    return frozenset(a.slot for a in planned if isinstance(a, Mint | ResumePending))


def plan_revocation(apps: Sequence[AppSpec], observed: Mapping[str, AppState], now: datetime) -> list[RevokeAction]:
    actions: list[RevokeAction] = []
    for app in apps:
        state = observed.get(app.name)
        if state is None or not state.complete:
            actions.append(_fail_closed(app, state, "nothing revoked (fail closed)"))
            continue
        actions.extend(plan_app_revocation(app, state, now))
    return actions
