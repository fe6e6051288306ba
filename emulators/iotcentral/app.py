"""One emulated IoT Central application: its roles, organizations, users, devices and API tokens, with
the pure-Python seeding API the sandbox world and the tests use (no HTTP).

Seeding is deliberately more permissive than the HTTP API: it may create tokens that are already
expired or that outlive the service's one-year lifetime, because the sandbox must show states that an
earlier run or a person in the web UI left behind. Seeding errors are `ValueError`s.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from emulators.core import Clock
from emulators.iotcentral import sas
from emulators.iotcentral.entities import (
    ORGANIZATION_ID,
    TOKEN_ID,
    USER_ID,
    ApiTokenInfo,
    Device,
    Organization,
    Table,
    TokenRecord,
    User,
)
from emulators.iotcentral.roles import ALIASES, BUILTIN_ROLES, PERMISSIONS, Role, RoleAssignment

TOKEN_LIFETIME = timedelta(days=365)
""""An API token is valid for approximately one year" (IoT Central docs): the default expiry."""

RoleRefs = Iterable[str | Mapping[str, str]]
"""Role assignments for seeding: a role alias or id, or ``{"role": ..., "organization": ...}``."""


class ConflictError(ValueError):
    """The resource (or a unique property of it) already exists: HTTP 409."""


class IoTCentralApp:
    def __init__(
        self,
        subdomain: str,
        *,
        app_id: str | None = None,
        clock: Clock,
        propagation_delay: Callable[[], timedelta] = lambda: timedelta(0),
    ) -> None:
        self.subdomain = subdomain
        self.app_id = app_id or str(uuid.uuid4())
        self.clock = clock
        self._propagation_delay = propagation_delay
        self._lock = threading.RLock()
        self.roles: Table[Role] = Table()
        self.organizations: Table[Organization] = Table()
        self.users: Table[User] = Table()
        self.devices: Table[Device] = Table()
        self._tokens: Table[TokenRecord] = Table()
        for role in BUILTIN_ROLES:
            self.roles.put(role.id, role)

    # -- roles and organizations -----------------------------------------------------------------------
    def role(self, role_id: str) -> Role | None:
        return self.roles.get(role_id)

    def resolve_role(self, ref: str) -> str:
        """A role id from an alias ("administrator"), an id, or a display name (case-insensitive)."""
        if ref.lower() in ALIASES:
            return ALIASES[ref.lower()]
        if ref in self.roles:
            return ref
        by_name = [r.id for r in self.roles if r.display_name.lower() == ref.lower()]
        if len(by_name) == 1:
            return by_name[0]
        raise ValueError(
            f"role: got {ref!r}, expected an alias ({', '.join(sorted(ALIASES))}), "
            f"a role id or a role display name of app {self.subdomain!r}"
        )

    def add_role(self, display_name: str, permissions: Iterable[str], *, role_id: str | None = None) -> Role:
        granted = frozenset(permissions)
        unknown = sorted(granted - PERMISSIONS)
        if unknown:
            raise ValueError(f"permissions: got unknown {unknown}, expected some of {sorted(PERMISSIONS)}")
        role = Role(role_id or str(uuid.uuid4()), display_name, granted)
        with self._lock:
            if role.id in self.roles:
                raise ConflictError(f"role {role.id!r} already exists in app {self.subdomain!r}")
            self.roles.put(role.id, role)
        return role

    def add_organization(self, org_id: str, display_name: str, parent: str | None = None) -> Organization:
        if not ORGANIZATION_ID.match(org_id):
            raise ValueError(f"organization id: got {org_id!r}, expected {ORGANIZATION_ID.pattern}")
        with self._lock:
            if org_id in self.organizations:
                raise ConflictError(f"organization {org_id!r} already exists in app {self.subdomain!r}")
            if parent is not None and parent not in self.organizations:
                raise ValueError(f"parent organization: got {parent!r}, expected an existing organization")
            return self.organizations.put(org_id, Organization(org_id, display_name, parent))

    def subtree(self, roots: Iterable[str]) -> set[str]:
        """The given organizations and all their descendants."""
        found = set(roots)
        with self._lock:
            orgs = list(self.organizations)
        grew = True
        while grew:
            children = {o.id for o in orgs if o.parent in found} - found
            found |= children
            grew = bool(children)
        return found

    def assignments(self, roles: RoleRefs) -> tuple[RoleAssignment, ...]:
        out: list[RoleAssignment] = []
        for ref in roles:
            role, org = (ref, None) if isinstance(ref, str) else (ref.get("role", ""), ref.get("organization"))
            if org is not None and org not in self.organizations:
                raise ValueError(f"organization: got {org!r}, expected an organization of app {self.subdomain!r}")
            out.append(RoleAssignment(self.resolve_role(role), org))
        if not out:
            raise ValueError("roles: got none, expected at least one role assignment")
        return tuple(out)

    # -- users -----------------------------------------------------------------------------------------
    def put_user(self, user: User) -> User:
        """Create or replace (PUT is "add or update" in the spec's examples); unique email and principal."""
        if not USER_ID.match(user.id):
            raise ValueError(f"user id: got {user.id!r}, expected {USER_ID.pattern}")
        with self._lock:
            for other in self.users:
                if other.id == user.id:
                    continue
                if user.email is not None and (other.email or "").lower() == user.email.lower():
                    raise ConflictError(f"email {user.email!r} is already used by user {other.id!r}")
                if user.object_id is not None and (other.object_id, other.tenant_id) == (
                    user.object_id,
                    user.tenant_id,
                ):
                    raise ConflictError(
                        f"objectId {user.object_id!r} of tenant {user.tenant_id!r} is already user {other.id!r}"
                    )
            return self.users.put(user.id, user)

    def add_service_principal(self, user_id: str, *, object_id: str, tenant_id: str, roles: RoleRefs) -> User:
        return self.put_user(
            User(user_id, "servicePrincipal", self.assignments(roles), object_id=object_id, tenant_id=tenant_id)
        )

    def add_ad_group(self, user_id: str, *, object_id: str, tenant_id: str, roles: RoleRefs) -> User:
        return self.put_user(
            User(user_id, "adGroup", self.assignments(roles), object_id=object_id, tenant_id=tenant_id)
        )

    def add_email_user(self, user_id: str, *, email: str, roles: RoleRefs) -> User:
        return self.put_user(User(user_id, "email", self.assignments(roles), email=email))

    def service_principal(self, object_id: str, tenant_id: str) -> User | None:
        return next(
            (
                u
                for u in self.users
                if u.type == "servicePrincipal" and (u.object_id, u.tenant_id) == (object_id, tenant_id)
            ),
            None,
        )

    # -- devices ---------------------------------------------------------------------------------------
    def add_device(
        self,
        device_id: str,
        *,
        organization: str | None = None,
        display_name: str | None = None,
        enabled: bool = True,
        provisioned: bool = True,
        simulated: bool = False,
    ) -> Device:
        with self._lock:
            if organization is not None and organization not in self.organizations:
                raise ValueError(f"organization: got {organization!r}, expected an existing organization")
            if device_id in self.devices:
                raise ConflictError(f"device {device_id!r} already exists in app {self.subdomain!r}")
            device = Device(
                device_id,
                display_name or device_id,
                (organization,) if organization is not None else (),
                enabled,
                provisioned,
                simulated,
            )
            return self.devices.put(device_id, device)

    # -- API tokens ------------------------------------------------------------------------------------
    def create_token(
        self, token_id: str, roles: RoleRefs, *, expiry: datetime | None = None, created: datetime | None = None
    ) -> str:
        """The token's value, once (as the web UI shows it). `created` defaults to the clock's now. A seeded
        token works at once: it stands for one made long before the test (only tokens minted through the
        API wait for the propagation delay). Expiry defaults to a year on."""
        created = created or self.clock.now()
        _, value = self.mint(
            token_id,
            self.assignments(roles),
            expiry=expiry or created + TOKEN_LIFETIME,
            created=created,
            propagate=False,
        )
        return value

    def mint(
        self,
        token_id: str,
        roles: tuple[RoleAssignment, ...],
        *,
        expiry: datetime,
        created: datetime,
        propagate: bool = True,
    ) -> tuple[ApiTokenInfo, str]:
        """Store a new token (no policy applied: callers decide the expiry); its info and its value. With
        `propagate`, it is refused (401) until the emulator's propagation delay has passed since `created`."""
        if not TOKEN_ID.match(token_id):
            raise ValueError(f"token id: got {token_id!r}, expected {TOKEN_ID.pattern}")
        if expiry.tzinfo is None or created.tzinfo is None:
            raise ValueError("token times must be timezone-aware")
        info = ApiTokenInfo(
            token_id,
            roles,
            sas.truncate_ms(expiry),
            created,
            created + (self._propagation_delay() if propagate else timedelta(0)),
        )
        key = sas.new_key()
        with self._lock:
            if token_id in self._tokens:
                raise ConflictError(f"API token {token_id!r} already exists in app {self.subdomain!r}")
            self._tokens.put(token_id, TokenRecord(info, key))
        return info, sas.token_value(key, app_id=self.app_id, token_id=token_id, expiry=info.expiry)

    @property
    def tokens(self) -> dict[str, ApiTokenInfo]:
        """Every token of the app, for inspection; values are never kept, so never shown."""
        return {record.info.id: record.info for record in self._tokens}

    def token_record(self, token_id: str) -> TokenRecord | None:
        return self._tokens.get(token_id)

    def token_page(self, after: int, size: int) -> tuple[list[ApiTokenInfo], int | None]:
        records, more = self._tokens.page(after, size)
        return [r.info for r in records], more

    def delete_token(self, token_id: str) -> bool:
        return self._tokens.remove(token_id)
