"""Roles, permissions and the access decision of the emulated IoT Central.

The real service does not publish its permission matrix, so the emulator uses a small, explicit one
that is faithful where the rotation service depends on it:

| role (real GUID) | permissions |
|---|---|
| Administrator | everything, including ``apiTokens.*`` and ``users.*`` |
| Builder | ``devices.read/manage``, ``roles.read``, ``organizations.read`` |
| Operator | ``devices.read/manage``, ``organizations.read`` |
| Org Admin | ``devices.read/manage``, ``organizations.read``, ``roles.read``, ``users.read`` |
| Org Operator | ``devices.read/manage``, ``organizations.read`` |
| Org Viewer | ``devices.read``, ``organizations.read`` |

Custom roles carry an explicit permission set (`IoTCentralApp.add_role`).

A caller (user or API token) holds role *assignments*. An assignment without an organization grants
its role's permissions application-wide. An assignment scoped to an organization grants only the
organization-scopable permissions (devices, organizations, roles) and, for devices, only those in that
organization or its descendants; application-wide powers (API tokens, users) need an unscoped
assignment. This is a simplification: the real service also lets org admins manage users in their
organization, which the rotation service never relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

APITOKENS_READ = "apiTokens.read"
APITOKENS_MANAGE = "apiTokens.manage"
USERS_READ = "users.read"
USERS_MANAGE = "users.manage"
ROLES_READ = "roles.read"
ORGANIZATIONS_READ = "organizations.read"
ORGANIZATIONS_MANAGE = "organizations.manage"
DEVICES_READ = "devices.read"
DEVICES_MANAGE = "devices.manage"

PERMISSIONS = frozenset(
    {
        APITOKENS_READ,
        APITOKENS_MANAGE,
        USERS_READ,
        USERS_MANAGE,
        ROLES_READ,
        ORGANIZATIONS_READ,
        ORGANIZATIONS_MANAGE,
        DEVICES_READ,
        DEVICES_MANAGE,
    }
)
ORG_SCOPABLE = frozenset({DEVICES_READ, DEVICES_MANAGE, ORGANIZATIONS_READ, ROLES_READ})
"""What an organization-scoped assignment can grant; the rest needs an application-wide assignment."""

ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
BUILDER = "344138e9-8de4-4497-8c54-5237e96d6aaf"
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ORG_ADMIN = "c495eb57-eb18-489e-9802-62c474e5645c"
ORG_OPERATOR = "b4935647-30e4-4ed3-9074-dcac66c2f8ef"
ORG_VIEWER = "84cc62c1-dabe-49d3-b16e-8b291232b285"


@dataclass(frozen=True)
class Role:
    id: str
    display_name: str
    permissions: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "displayName": self.display_name}


@dataclass(frozen=True)
class RoleAssignment:
    role: str
    organization: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"role": self.role}
        if self.organization is not None:
            out["organization"] = self.organization
        return out


_DEVICES = {DEVICES_READ, DEVICES_MANAGE, ORGANIZATIONS_READ}
BUILTIN_ROLES: tuple[Role, ...] = (
    Role(ADMINISTRATOR, "Administrator", PERMISSIONS),
    Role(BUILDER, "Builder", frozenset({*_DEVICES, ROLES_READ})),
    Role(OPERATOR, "Operator", frozenset(_DEVICES)),
    Role(ORG_ADMIN, "Org Admin", frozenset({*_DEVICES, ROLES_READ, USERS_READ})),
    Role(ORG_OPERATOR, "Org Operator", frozenset(_DEVICES)),
    Role(ORG_VIEWER, "Org Viewer", frozenset({DEVICES_READ, ORGANIZATIONS_READ})),
)

ALIASES = {
    "administrator": ADMINISTRATOR,
    "admin": ADMINISTRATOR,
    "builder": BUILDER,
    "operator": OPERATOR,
    "org_admin": ORG_ADMIN,
    "org_operator": ORG_OPERATOR,
    "org_viewer": ORG_VIEWER,
}
"""Names accepted by the seeding API (never by HTTP, where the real service wants role ids)."""


def grants(assignment: RoleAssignment, role: Role | None, permission: str) -> bool:
    if role is None or permission not in role.permissions:
        return False
    return assignment.organization is None or permission in ORG_SCOPABLE


def allowed(assignments: Iterable[RoleAssignment], lookup: Callable[[str], Role | None], permission: str) -> bool:
    """Whether any assignment grants `permission` (somewhere, for the organization-scopable ones)."""
    return any(grants(a, lookup(a.role), permission) for a in assignments)


def organization_scope(
    assignments: Iterable[RoleAssignment], lookup: Callable[[str], Role | None], permission: str
) -> set[str] | None:
    """The organizations where `permission` holds; None means everywhere (an unscoped grant)."""
    scope: set[str] = set()
    for assignment in assignments:
        if not grants(assignment, lookup(assignment.role), permission):
            continue
        if assignment.organization is None:
            return None
        scope.add(assignment.organization)
    return scope
