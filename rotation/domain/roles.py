"""The built-in IoT Central roles (ids and the aliases policies may use for them) and how a policy names a
role: the one vocabulary of role names and GUIDs (the planner, the audit and the CLI read it from here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rotation.domain.ids import is_guid
from rotation.errors import InvalidValue

BUILTIN_ROLES: dict[str, str] = {
    "administrator": "ca310b8d-2f4a-44e0-a36e-957c202cd8d4",
    "builder": "344138e9-8de4-4497-8c54-5237e96d6aaf",
    "operator": "ae2c9854-393b-4f97-8c42-479d70ce626e",
    "org_admin": "c495eb57-eb18-489e-9802-62c474e5645c",
    "org_operator": "b4935647-30e4-4ed3-9074-dcac66c2f8ef",
    "org_viewer": "84cc62c1-dabe-49d3-b16e-8b291232b285",
}
ALIAS_BY_ID: dict[str, str] = {role_id: alias for alias, role_id in BUILTIN_ROLES.items()}
ROLE_NAME_MAX = 100

RoleKind = Literal["alias", "id", "name"]


@dataclass(frozen=True, order=True)
class PolicyRole:
    """A role as a policy names it. `alias` and `id` carry the role GUID already; a `name` (custom role) is
    resolved against the app's `GET /api/roles` when the app is observed."""

    kind: RoleKind
    value: str  # alias: the alias; id: the lowercase GUID; name: the display name as written

    @property
    def role_id(self) -> str | None:
        if self.kind == "alias":
            return BUILTIN_ROLES[self.value]
        return self.value if self.kind == "id" else None

    @property
    def ref(self) -> str:
        """What the planner resolves: the GUID when known, else the custom role's name."""
        return self.role_id or self.value

    def label(self) -> str:
        if self.kind == "id" and self.value in ALIAS_BY_ID:
            return ALIAS_BY_ID[self.value]
        return self.value

    def same_role(self, other: PolicyRole) -> bool:
        """True when both name the same role as far as can be told without the app (names case-insensitively)."""
        if self.role_id is not None and other.role_id is not None:
            return self.role_id == other.role_id
        return self.kind == other.kind == "name" and self.value.casefold() == other.value.casefold()


def parse_role_ref(value: str, what: str = "role") -> PolicyRole:
    """Built-in alias (case-insensitive; `org admin`/`org-admin` spell `org_admin`), a GUID, or a custom
    role's display name."""
    if not isinstance(value, str) or not value.strip() or len(value) > ROLE_NAME_MAX:
        raise InvalidValue(
            what,
            value,
            f"a built-in role ({', '.join(BUILTIN_ROLES)}), a role GUID or a custom "
            f"role name (1-{ROLE_NAME_MAX} characters)",
        )
    if any(not c.isprintable() for c in value) or value != value.strip():
        raise InvalidValue(what, value, "a role name without control characters or surrounding spaces")
    alias = re.sub(r"[\s-]+", "_", value.strip().casefold())
    if alias in BUILTIN_ROLES:
        return PolicyRole("alias", alias)
    if is_guid(value):
        return PolicyRole("id", value.lower())
    return PolicyRole("name", value)
