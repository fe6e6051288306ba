"""The resources of one emulated application, as immutable values that render their spec JSON.

`Table` keeps them in creation order with a sequence number per entry, so that paging by "after
sequence N" stays correct while tokens are created and deleted between two pages (which is exactly
what the rotation service does while it lists).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from emulators.iotcentral.roles import RoleAssignment

TOKEN_ID = re.compile(r"^[A-Za-z0-9_.~-]{1,128}$")
"""The spec states no rule for token ids; the emulator accepts what is safe in a URL path and in the
``skn=`` field of the token value, and no more."""
USER_ID = re.compile(r"^[a-zA-Z0-9-_]{1,48}$")
ORGANIZATION_ID = re.compile(r"^(?!-)[a-z0-9-]{1,48}[a-z0-9]$")
USER_TYPES = ("servicePrincipal", "email", "adGroup")


def format_time(when: datetime) -> str:
    """ISO 8601 with milliseconds and a Z, as the service writes ``expiry`` (2020-10-18T18:30:40.227Z)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _roles_json(roles: tuple[RoleAssignment, ...]) -> list[dict[str, str]]:
    return [r.to_json() for r in roles]


@dataclass(frozen=True)
class Organization:
    id: str
    display_name: str
    parent: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "displayName": self.display_name}
        if self.parent is not None:
            out["parent"] = self.parent
        return out


@dataclass(frozen=True)
class User:
    id: str
    type: str
    roles: tuple[RoleAssignment, ...]
    email: str | None = None
    object_id: str | None = None
    tenant_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "roles": _roles_json(self.roles)}
        if self.type == "email":
            out["email"] = self.email
        else:
            out["tenantId"] = self.tenant_id
            out["objectId"] = self.object_id
        return out


@dataclass(frozen=True)
class Device:
    id: str
    display_name: str
    organizations: tuple[str, ...] = ()
    enabled: bool = True
    provisioned: bool = True
    simulated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "enabled": self.enabled,
            "provisioned": self.provisioned,
            "simulated": self.simulated,
            "organizations": list(self.organizations),
        }


@dataclass(frozen=True)
class ApiTokenInfo:
    """What anyone may know about an API token: never its value."""

    id: str
    roles: tuple[RoleAssignment, ...]
    expiry: datetime
    created: datetime
    usable_from: datetime
    """Creation plus the propagation delay: before that, the service refuses the token with 401."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "roles": _roles_json(self.roles), "expiry": format_time(self.expiry)}


@dataclass(frozen=True)
class TokenRecord:
    info: ApiTokenInfo
    key: bytes = field(repr=False)


T = TypeVar("T")


class Table(Generic[T]):
    """Entries by id in creation order; replacing an entry keeps its place."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: dict[str, tuple[int, T]] = {}
        self._next = 1

    def get(self, key: str) -> T | None:
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry[1]

    def put(self, key: str, value: T) -> T:
        with self._lock:
            current = self._entries.get(key)
            if current is None:
                self._entries[key] = (self._next, value)
                self._next += 1
            else:
                self._entries[key] = (current[0], value)
            return value

    def remove(self, key: str) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __iter__(self) -> Iterator[T]:
        with self._lock:
            return iter([value for _, value in self._entries.values()])

    def page(self, after: int, size: int, keep: Callable[[T], bool] | None = None) -> tuple[list[T], int | None]:
        """Up to `size` entries created after sequence `after`; and the sequence to continue from, if any."""
        with self._lock:
            candidates = [
                (seq, value) for seq, value in self._entries.values() if seq > after and (keep is None or keep(value))
            ]
        page = candidates[:size]
        more = len(candidates) > size
        return [value for _, value in page], (page[-1][0] if more else None)
