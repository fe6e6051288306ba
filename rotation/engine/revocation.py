"""The revocation decision of one app, pure, in named steps (docs/protocol.md, "Revocation: only on
positive evidence"):

1. `doubts`: slots whose vault state is not positive evidence; each is `Blocked`, its tokens untouched.
2. `slot_revocations`: per slot not in doubt, `previous` versions past their grace (or whose token
   expired) and tokens of `revoked` versions the app still lists.
3. `sweep`, only when `sweep_allowed` (no doubt, and every slot has versions): tokens outside the
   `protected` set -- expired managed ones, orphans past their window, unmanaged ones a policy removes.

A token is deleted only when the listing shows it; a token referenced by any version of a declared
secret (enabled or not, any stage) is never an orphan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rotation.domain.lifecycle import created_from_id, superseded_since, within_orphan_window
from rotation.domain.model import AppSpec, AppState, AppToken, SlotSpec, SlotState
from rotation.domain.protocol import STAGE_PREVIOUS, STAGE_REVOKED
from rotation.domain.values import managed_slot_part, parse_managed_id
from rotation.engine.actions import Blocked, DeleteToken, Revoke, RevokeAction


def plan_app_revocation(app: AppSpec, state: AppState, now: datetime) -> list[RevokeAction]:
    """Deletes only on positive evidence: a slot in doubt keeps all its tokens (and blocks the app's sweep)."""
    blocked = doubts(app, state)
    doubtful = {b.slot for b in blocked}
    actions: list[RevokeAction] = list(blocked)
    for spec in app.slots:
        if spec.slot not in doubtful:
            actions.extend(slot_revocations(spec, state, now))
    if sweep_allowed(app, state, blocked):
        actions.extend(sweep(app, state, now))
    return actions


# -- 1. doubt ---------------------------------------------------------------------------------------------
def doubts(app: AppSpec, state: AppState) -> list[Blocked]:
    """One `Blocked` per slot in doubt, with the reason."""
    return [Blocked(app.name, spec.slot, why) for spec in app.slots if (why := slot_doubt(spec, state)) is not None]


def slot_doubt(spec: SlotSpec, state: AppState) -> str | None:
    """Why this slot's vault state is not positive evidence to revoke by, or None when it is.

    Positive: the slot's current version references a token the app lists, or the slot has never been
    minted (no secret, no managed token of the slot in the app). A secret with versions but none current
    is doubt whatever the listing shows (a listing that hides a token must not make it look never minted)."""
    slot = state.slots.get(spec.slot, SlotState())
    current = slot.current
    if current is not None and current.token_id is not None:
        if state.token(current.token_id) is not None:
            return None
        return (
            f"current token {current.token_id}: got no such token in the app's listing, expected it listed; "
            "nothing revoked for this slot until a rotation replaces it"
        )
    if slot.versions:
        return (
            f"secret {spec.secret}: got {len(slot.versions)} version(s) and none enabled and tagged current, "
            "expected a current version; nothing revoked in this app (re-enable it, or run rotate)"
        )
    mine = sorted(t.id for t in state.tokens or () if t.managed and slot_of(t.id, (spec,)) is not None)
    if not mine:
        return None
    what = "got no such secret" if not slot.found else "got no versions (deleted by hand, or never written)"
    return (
        f"secret {spec.secret}: {what}, expected a current version while the app lists {len(mine)} managed "
        f"token(s) of this slot ({', '.join(mine[:3])}{', ...' if len(mine) > 3 else ''}); nothing revoked "
        "in this app (restore or recover the secret, or run rotate to make a new current token)"
    )


def sweep_allowed(app: AppSpec, state: AppState, blocked: Sequence[Blocked]) -> bool:
    """No slot in doubt, and every slot has versions: a slot without any may be a deleted secret."""
    return not blocked and all(state.slots.get(s.slot, SlotState()).versions for s in app.slots)


# -- 2. per slot ------------------------------------------------------------------------------------------
def slot_revocations(spec: SlotSpec, state: AppState, now: datetime) -> list[RevokeAction]:
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
            reason = revoke_reason(spec, state.token(version.token_id), superseded_since(version), now)
            if reason:
                actions.append(
                    Revoke(spec.app, spec.slot, reason, version.version, version.token_id, version.tags, delete=listed)
                )
        elif version.stage == STAGE_REVOKED and listed:
            actions.append(
                DeleteToken(
                    spec.app,
                    f"its version {version.version[:8]} was revoked, yet the app still lists it",
                    version.token_id,
                    "revoked",
                )
            )
    return actions


def revoke_reason(spec: SlotSpec, token: AppToken | None, superseded_at: datetime, now: datetime) -> str | None:
    """Why a `previous` version goes now (its listed token expired, or its grace is over), or None."""
    if token is not None and token.expiry is not None and token.expiry <= now:
        return f"superseded token expired at {token.expiry:%Y-%m-%d %H:%M} UTC"
    if superseded_at + spec.grace > now:
        return None
    over = f"grace period {_days(spec.grace)} over (superseded {superseded_at:%Y-%m-%d %H:%M} UTC)"
    return over if token is not None else f"{over}; its token is not listed: version retired, nothing deleted"


# -- 3. the sweep -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Protected:
    """`referenced`: token ids any version of a declared secret or staging secret names (never orphans);
    `live`: those a consumer may still hold (never swept at all, expired or not)."""

    referenced: frozenset[str]
    live: frozenset[str]


def protected(app: AppSpec, state: AppState) -> Protected:
    referenced: set[str] = set()
    live: set[str] = set()
    for spec in app.slots:
        slot = state.slots.get(spec.slot, SlotState())
        referenced |= slot.referenced_token_ids()
        live |= slot.live_token_ids()
        if slot.current and slot.current.token_id:
            live.add(slot.current.token_id)
    return Protected(frozenset(referenced), frozenset(live))


def sweep(app: AppSpec, state: AppState, now: datetime) -> list[RevokeAction]:
    """Tokens no version protects: expired managed ones, orphans past their window, and unmanaged ones a
    policy removes. Call only when `sweep_allowed`."""
    keep = protected(app, state)
    allowed = {a.token_id for a in app.allow_unmanaged if a.until >= now.date()}
    actions: list[RevokeAction] = []
    for token in state.tokens or ():
        if token.id in keep.live:
            continue
        if token.managed:
            if token.expiry is not None and token.expiry <= now:
                actions.append(
                    DeleteToken(
                        app.name, f"managed token expired at {token.expiry:%Y-%m-%d %H:%M} UTC", token.id, "expired"
                    )
                )
            elif token.id not in keep.referenced and (why := orphan_reason(app, state, token.id, now)):
                actions.append(DeleteToken(app.name, why, token.id, "orphan"))
        elif app.remove_unmanaged and token.id not in allowed:
            actions.append(
                DeleteToken(app.name, "unmanaged and not allowlisted (remove_unmanaged: true)", token.id, "unmanaged")
            )
    return actions


def orphan_reason(app: AppSpec, state: AppState, token_id: str, now: datetime) -> str | None:
    """An orphan goes once it is older than the safety window and, when it belongs to a declared slot,
    once that slot's current version has been current for the slot's grace (it superseded the orphan,
    which a consumer may still hold, e.g. from a secret the policy no longer names)."""
    created = created_from_id(token_id)
    if created is None or within_orphan_window(token_id, app.orphan_safety_window, now):
        return None
    spec = slot_of(token_id, app.slots)
    if spec is not None:
        current = state.slots.get(spec.slot, SlotState()).current
        if current is None or current.created_on + spec.grace > now:
            return None
    return f"orphan: no vault version references it (age {_days(now - created)})"


def slot_of(token_id: str, slots: Sequence[SlotSpec]) -> SlotSpec | None:
    """The declared slot a managed token id was minted for (by its slot part), if any."""
    parsed = parse_managed_id(token_id)
    if parsed is None:
        return None
    return next((s for s in slots if managed_slot_part(s.slot) == parsed[0]), None)


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.0f}h"
