"""Reads what is: one app's token list and roles, and the versions of each declared slot's secrets.

Whatever cannot be read completely is recorded as an error on the `AppState` (never guessed), so the
planner and the audit fail closed for that app.
"""

from __future__ import annotations

from rotation.errors import RotationError
from rotation.model import AppSpec, AppState, AppToken, SlotState
from rotation.ports import IoTCentralPort, VaultPort


def observe_app(spec: AppSpec, iotc: IoTCentralPort, vault: VaultPort) -> AppState:
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
            slots[slot.slot] = SlotState(tuple(vault.list_versions(slot.secret)),
                                         tuple(vault.list_versions(slot.pending_secret)))
        except RotationError as exc:
            errors.append(str(exc))
            vault_complete = False
    return AppState(spec.name, tokens, roles, slots, vault_complete, tuple(errors))
