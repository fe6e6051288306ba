"""Reads what is: one app's token list and roles, the versions of each declared slot's secrets and,
when asked, whether each slot's current token still authenticates.

Whatever cannot be read completely is recorded as an error on the `AppState` (never guessed), so the
planner and the audit fail closed for that app. A secret that does not exist is recorded as such
(`SlotState.found`), never as an empty list of versions: the planner must not mistake a deleted
secret for a slot with nothing to protect.
"""

from __future__ import annotations

from rotation.domain.model import AppSpec, AppState, AppToken, SlotSpec, SlotState, VerifyCheck
from rotation.engine.ports import IoTCentralPort, VaultPort
from rotation.errors import RotationError, VerificationError

DEFAULT_VERIFY_PATH = "/api/devices"


def observe_app(spec: AppSpec, iotc: IoTCentralPort, vault: VaultPort, *, verify_current: bool = False) -> AppState:
    """`verify_current`: also call the app with each slot's current token (rotate repairs a current
    token that no longer authenticates; the audit reports it). Revoke does not need it."""
    errors: list[str] = []
    tokens: tuple[AppToken, ...] | None = None
    roles: dict[str, str] = {}
    try:
        tokens = tuple(iotc.list_tokens())
    except RotationError as exc:
        errors.append(str(exc))
    try:
        roles = iotc.list_roles()
    except RotationError as exc:
        errors.append(str(exc))
        tokens = None  # custom role names cannot be resolved: treat the app as unreadable
    slots: dict[str, SlotState] = {}
    vault_complete = True
    for slot in spec.slots:
        try:
            slots[slot.slot] = _read_slot(vault, slot)
        except RotationError as exc:
            errors.append(str(exc))
            vault_complete = False
    state = AppState(spec.name, tokens, roles, slots, vault_complete, tuple(errors))
    if not verify_current or not state.complete:
        return state
    checks = {s.slot: check for s in spec.slots if (check := verify_slot(s, state, iotc, vault)) is not None}
    return AppState(spec.name, tokens, roles, slots, vault_complete, tuple(errors), checks)


def _read_slot(vault: VaultPort, slot: SlotSpec) -> SlotState:
    versions = vault.read_versions(slot.secret)
    pending = vault.read_versions(slot.pending_secret)
    return SlotState(tuple(versions or ()), tuple(pending or ()), found=versions is not None)


def verify_slot(spec: SlotSpec, state: AppState, iotc: IoTCentralPort, vault: VaultPort) -> VerifyCheck | None:
    """Calls the app with the slot's current token (read from the vault), as a consumer would. None when
    there is no current token listed by the app (the planner already says why)."""
    current = state.slots.get(spec.slot, SlotState()).current
    if current is None or current.token_id is None or state.token(current.token_id) is None:
        return None
    try:
        value = vault.get_value(spec.secret, current.version)
    except RotationError as exc:
        return VerifyCheck(state.name, spec.slot, current.token_id, ok=False, error=f"could not read it: {exc}")
    try:
        iotc.verify(value, spec.verify_method, spec.verify_path or DEFAULT_VERIFY_PATH)
    except VerificationError as exc:  # the app answered 401/403 to this very token
        return VerifyCheck(state.name, spec.slot, current.token_id, ok=False, error=str(exc), refused=True)
    except RotationError as exc:
        return VerifyCheck(state.name, spec.slot, current.token_id, ok=False, error=f"could not verify: {exc}")
    return VerifyCheck(state.name, spec.slot, current.token_id, ok=True)
