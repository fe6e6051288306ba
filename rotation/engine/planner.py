"""The pure core: from what is declared and what is observed, decide what to do and say why.

`plan_rotation` and `plan_revocation` never touch the network; the executor applies their actions.
Re-planning after a successful apply yields nothing, and no plan ever revokes a slot's current token
(hypothesis checks both). Incomplete observations fail closed: no revocation, a `Blocked` action.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from rotation.domain.lifecycle import created_from_id, renewal, superseded_since, within_orphan_window
from rotation.domain.model import (
    AppSpec,
    AppState,
    AppToken,
    RoleAssignment,
    SecretVersion,
    SlotSpec,
    SlotState,
)
from rotation.domain.protocol import STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS, STAGE_REVOKED
from rotation.domain.values import managed_slot_part, parse_managed_id
from rotation.engine.actions import (
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


def _plan_pending(spec: SlotSpec, state: AppState, slot: SlotState, want: frozenset[RoleAssignment],
                  now: datetime) -> tuple[list[RotateAction], bool]:
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
            actions.append(FinishPromotion(spec.app, spec.slot, "promotion finished before the run stopped",
                                           pending.version, pending.tags))
        elif pending is resume:
            actions.append(ResumePending(spec.app, spec.slot, "staged by an interrupted run",
                                         pending.version, str(pending.token_id), pending.tags))
        else:
            token = state.token(pending.token_id) if pending.token_id else None
            why = ("its token is not in the app" if token is None
                   else "its roles differ from the policy" if token.roles != want
                   else f"its token is {stale}" if (stale := renewal_reason(spec, token, pending, now))
                   else "superseded by a newer token")
            deletable = token is not None and pending.token_id not in keep
            actions.append(AbandonPending(spec.app, spec.slot, f"staged token abandoned: {why}",
                                          pending.version, pending.token_id, deletable, pending.tags))
    return actions, resume is not None


def _resume_candidate(spec: SlotSpec, staged: Sequence[SecretVersion], state: AppState, *,
                      current: SecretVersion | None, want: frozenset[RoleAssignment], promoted: set[str],
                      now: datetime) -> SecretVersion | None:
    """The newest staged version whose token is in the app with the wanted roles, newer than current, and
    neither expired nor already due (promoting it would only call for another mint)."""
    for pending in reversed(staged):
        token = state.token(pending.token_id) if pending.token_id else None
        if (token is not None and token.roles == want and pending.token_id not in promoted
                and (current is None or pending.created_on > current.created_on)
                and renewal_reason(spec, token, pending, now) is None):
            return pending
    return None


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
    """Deletes only on positive evidence: a slot in doubt keeps all its tokens (and blocks the app's sweep)."""
    doubts = [Blocked(app.name, spec.slot, why) for spec in app.slots
              if (why := slot_doubt(spec, state)) is not None]
    doubtful = {b.slot for b in doubts}
    actions: list[RevokeAction] = list(doubts)
    for spec in app.slots:
        if spec.slot not in doubtful:
            actions.extend(_slot_revocations(spec, state, now))
    if not doubts and all(state.slots.get(s.slot, SlotState()).versions for s in app.slots):
        actions.extend(_sweep(app, state, now))  # a slot without versions may be a deleted secret: no sweep yet
    return actions


def _slot_of(token_id: str, app: AppSpec) -> SlotSpec | None:
    """The declared slot a managed token id was minted for (by its slot part), if any."""
    parsed = parse_managed_id(token_id)
    if parsed is None:
        return None
    return next((s for s in app.slots if managed_slot_part(s.slot) == parsed[0]), None)


def slot_doubt(spec: SlotSpec, state: AppState) -> str | None:
    """Why this slot's vault state is not positive evidence to revoke by, or None when it is.

    Positive: the slot's current version references a token the app lists, or the slot has never been
    minted (no secret, no managed token of the slot in the app)."""
    slot = state.slots.get(spec.slot, SlotState())
    mine = sorted(t.id for t in state.tokens or () if t.managed and _slot_part_matches(t.id, spec))
    current = slot.current
    if current is not None and current.token_id is not None:
        if state.token(current.token_id) is not None:
            return None
        return (f"current token {current.token_id}: got no such token in the app's listing, expected it listed; "
                "nothing revoked for this slot until a rotation replaces it")
    if slot.versions:  # minted before, yet no current version: whatever the listing shows, this is doubt
        return (f"secret {spec.secret}: got {len(slot.versions)} version(s) and none enabled and tagged current, "
                "expected a current version; nothing revoked in this app (re-enable it, or run rotate)")
    if not mine:
        return None
    what = ("got no such secret" if not slot.found
            else "got no versions (deleted by hand, or never written)" if not slot.versions
            else "got no enabled version tagged current")
    return (f"secret {spec.secret}: {what}, expected a current version while the app lists {len(mine)} managed "
            f"token(s) of this slot ({', '.join(mine[:3])}{', ...' if len(mine) > 3 else ''}); nothing revoked "
            "in this app (restore or recover the secret, or run rotate to make a new current token)")


def _slot_part_matches(token_id: str, spec: SlotSpec) -> bool:
    parsed = parse_managed_id(token_id)
    return parsed is not None and parsed[0] == managed_slot_part(spec.slot)


def _slot_revocations(spec: SlotSpec, state: AppState, now: datetime) -> list[RevokeAction]:
    """Superseded versions past their grace (or whose token expired), and tokens of revoked versions that
    are still listed. A token missing from the listing is never deleted: its version is only retired."""
    slot = state.slots.get(spec.slot, SlotState())
    current = slot.current
    actions: list[RevokeAction] = []
    for version in slot.versions:
        if version.token_id is None or (current is not None and version.token_id == current.token_id):
            continue
        listed = state.token(version.token_id) is not None
        if version.stage == STAGE_PREVIOUS and version.enabled:
            superseded = superseded_since(version)
            reason = _revoke_reason(spec, state, version.token_id, superseded, now)
            if reason:
                actions.append(Revoke(spec.app, spec.slot, reason, version.version, version.token_id,
                                      version.tags, delete=listed))
        elif version.stage == STAGE_REVOKED and listed:
            actions.append(DeleteToken(spec.app, f"its version {version.version[:8]} was revoked, yet the app "
                                       "still lists it", version.token_id, "revoked"))
    return actions


def _sweep(app: AppSpec, state: AppState, now: datetime) -> list[RevokeAction]:
    """Tokens no version protects: expired managed ones, orphans past their window, and unmanaged ones a
    policy removes. Runs only when every slot was read positively (see `_plan_app_revocation`)."""
    referenced: set[str] = set()
    live: set[str] = set()
    for spec in app.slots:
        slot = state.slots.get(spec.slot, SlotState())
        referenced |= slot.referenced_token_ids()
        live |= slot.live_token_ids()
        if slot.current and slot.current.token_id:
            live.add(slot.current.token_id)
    allowed = {a.token_id for a in app.allow_unmanaged if a.until >= now.date()}
    actions: list[RevokeAction] = []
    for token in state.tokens or ():
        if token.id in live:
            continue
        if token.managed:
            if token.expiry is not None and token.expiry <= now:
                actions.append(DeleteToken(app.name, f"managed token expired at {token.expiry:%Y-%m-%d %H:%M} UTC",
                                           token.id, "expired"))
            elif token.id not in referenced and (why := _orphan_reason(app, state, token.id, now)):
                actions.append(DeleteToken(app.name, why, token.id, "orphan"))
        elif app.remove_unmanaged and token.id not in allowed:
            actions.append(DeleteToken(app.name, "unmanaged and not allowlisted (remove_unmanaged: true)",
                                       token.id, "unmanaged"))
    return actions


def _orphan_reason(app: AppSpec, state: AppState, token_id: str, now: datetime) -> str | None:
    """An orphan goes once it is older than the safety window and, when it belongs to a declared slot,
    once that slot's current version has been current for the slot's grace (it superseded the orphan,
    which a consumer may still hold, e.g. from a secret the policy no longer names)."""
    created = created_from_id(token_id)
    if created is None or within_orphan_window(token_id, app.orphan_safety_window, now):
        return None
    spec = _slot_of(token_id, app)
    if spec is not None:
        current = state.slots.get(spec.slot, SlotState()).current
        if current is None or current.created_on + spec.grace > now:
            return None
    return f"orphan: no vault version references it (age {_days(now - created)})"


def _revoke_reason(spec: SlotSpec, state: AppState, token_id: str, superseded_at: datetime,
                   now: datetime) -> str | None:
    token = state.token(token_id)
    if token is not None and token.expiry is not None and token.expiry <= now:
        return f"superseded token expired at {token.expiry:%Y-%m-%d %H:%M} UTC"
    if superseded_at + spec.grace > now:
        return None
    over = f"grace period {_days(spec.grace)} over (superseded {superseded_at:%Y-%m-%d %H:%M} UTC)"
    return over if token is not None else f"{over}; its token is not listed: version retired, nothing deleted"


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.0f}h"
