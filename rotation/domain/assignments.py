"""How a slot's declared roles meet an app's roles: resolution to role ids and drift, one home for the
planner (what to mint) and the audit (IOTC role findings), so the two never judge roles differently."""

from __future__ import annotations

from collections.abc import Mapping

from rotation.domain.ids import is_guid
from rotation.domain.model import RoleAssignment, SlotSpec
from rotation.domain.roles import ALIAS_BY_ID


def resolve_roles(spec: SlotSpec, app_roles: Mapping[str, str]) -> frozenset[RoleAssignment] | str:
    """Policy role references as role ids, or the reason they cannot be resolved."""
    by_name = {name.casefold(): role_id for role_id, name in app_roles.items()}
    resolved: set[RoleAssignment] = set()
    for ref in spec.roles:
        if ref.ref in app_roles or (not app_roles and is_guid(ref.ref)):
            role_id = ref.ref
        elif ref.ref.casefold() in by_name:
            role_id = by_name[ref.ref.casefold()]
        else:
            known = ", ".join(sorted(app_roles.values())) or "none listed"
            return f"role {ref.ref!r}: got no such role in the app, expected one of: {known}"
        resolved.add(RoleAssignment(role_id, ref.organization))
    return frozenset(resolved)


def roles_drift(
    want: frozenset[RoleAssignment], have: frozenset[RoleAssignment], names: Mapping[str, str]
) -> str | None:
    names = names or ALIAS_BY_ID  # rotate lists the roles only when one is custom: built-ins by their alias
    added = sorted(r.label(names) for r in want - have)
    removed = sorted(r.label(names) for r in have - want)
    if not added and not removed:
        return None
    return "roles drift: " + " ".join([*(f"+{a}" for a in added), *(f"-{r}" for r in removed)])
