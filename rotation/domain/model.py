"""What the service declares (specs, derived from policies) and what it observes (apps, vault versions).

Plain frozen dataclasses: the planner and the audit are pure functions of these, so every decision can
be unit-tested and replayed without I/O. No type here ever holds a token value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from rotation.domain.protocol import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    TAG_STAGE,
    TAG_SUPERSEDED_AT,
    TAG_TOKEN_ID,
    pending_secret_name,
)
from rotation.domain.values import MANAGED_PREFIX


@dataclass(frozen=True, order=True)
class RoleAssignment:
    """A role id (GUID) with an optional organization, as IoT Central lists them."""

    role: str
    organization: str | None = None

    def label(self, names: Mapping[str, str] | None = None) -> str:
        name = (names or {}).get(self.role, self.role)
        return f"{name}@{self.organization}" if self.organization else name


# -- declared ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotRole:
    """A role as a policy names it: a GUID, or a custom role name resolved through GET /api/roles."""

    ref: str
    organization: str | None = None


@dataclass(frozen=True)
class SlotSpec:
    app: str
    slot: str
    secret: str
    roles: tuple[SlotRole, ...]
    lifetime: timedelta
    renew_at: float
    grace: timedelta
    max_lifetime: timedelta
    jitter: float = 0.0
    verify_method: str = "GET"
    verify_path: str | None = None
    verify_budget: timedelta | None = None  # how long a new token may take to be accepted; None: the default
    declared_at: tuple[str, int] | None = field(default=None, compare=False)  # (policy file, line): reports
    consumers: tuple[tuple[str, timedelta], ...] = ()  # (name, refresh interval): the grace must exceed each

    @property
    def pending_secret(self) -> str:
        return pending_secret_name(self.secret)


@dataclass(frozen=True)
class AllowedToken:
    """An allowlisted unmanaged token (`allow_unmanaged`)."""

    token_id: str
    until: date
    justification: str


@dataclass(frozen=True)
class AppSpec:
    name: str
    base_url: str
    vault: str
    slots: tuple[SlotSpec, ...]
    allow_unmanaged: tuple[AllowedToken, ...] = ()
    remove_unmanaged: bool = False
    orphan_safety_window: timedelta = timedelta(hours=1)
    forbid_roles: tuple[str, ...] = ()
    api_token_slot: str | None = None  # authenticate with this slot's current token (no managed identity)
    declared_at: tuple[str, int] | None = field(default=None, compare=False)  # (policy file, line): reports


# -- observed ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AppToken:
    """An API token as the app lists it (never with its value)."""

    id: str
    roles: frozenset[RoleAssignment]
    expiry: datetime | None
    expiry_refused: bool = field(default=False, compare=False)
    """Set by `create_token` only: the app answered 400 to a requested expiry and chose its own, so the
    executor records the mismatch even when the app's choice happens to be near the request."""

    @property
    def managed(self) -> bool:
        return self.id.startswith(MANAGED_PREFIX)


@dataclass(frozen=True)
class SecretVersion:
    """The properties of one Key Vault secret version (never its value)."""

    name: str
    version: str
    created_on: datetime
    enabled: bool = True
    expires_on: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def stage(self) -> str | None:
        return self.tags.get(TAG_STAGE)

    @property
    def token_id(self) -> str | None:
        return self.tags.get(TAG_TOKEN_ID)

    @property
    def superseded_at(self) -> datetime | None:
        raw = self.tags.get(TAG_SUPERSEDED_AT)
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return None


@dataclass(frozen=True)
class VerifyCheck:
    """Whether a slot's current token (read from the vault) works against its app right now."""

    app: str
    slot: str
    token_id: str | None
    ok: bool
    error: str | None = None
    refused: bool = False  # the app refused the token (401/403): positive evidence it does not work


@dataclass(frozen=True)
class SlotState:
    """All versions of a slot's secret and of its staging secret, oldest first. `found` is False when the
    slot's secret does not exist in the vault (404): deleted by hand, or a policy whose vault or secret
    changed. That is different from a secret read completely, and the planner treats it as doubt."""

    versions: tuple[SecretVersion, ...] = ()
    pending: tuple[SecretVersion, ...] = ()
    found: bool = True

    @property
    def current(self) -> SecretVersion | None:
        """The newest enabled version tagged current (older 'current' ones are crash leftovers)."""
        currents = [v for v in self.versions if v.enabled and v.stage == STAGE_CURRENT]
        return max(currents, key=lambda v: v.created_on) if currents else None

    def referenced_token_ids(self) -> set[str]:
        """Every token id any version references, enabled or not, in any stage."""
        return {v.token_id for v in (*self.versions, *self.pending) if v.token_id}

    def live_token_ids(self) -> set[str]:
        """Token ids a consumer may still hold: enabled current and previous versions, staged ones."""
        return {
            v.token_id for v in self.versions if v.token_id and v.enabled and v.stage in (STAGE_CURRENT, STAGE_PREVIOUS)
        } | {p.token_id for p in self.pending if p.token_id and p.stage == STAGE_PENDING}


@dataclass(frozen=True)
class AppState:
    """One app as observed in one run. `tokens` is None when the listing could not be completed."""

    name: str
    tokens: tuple[AppToken, ...] | None
    roles: Mapping[str, str] = field(default_factory=dict)  # role id -> display name
    slots: Mapping[str, SlotState] = field(default_factory=dict)
    vault_complete: bool = True
    errors: tuple[str, ...] = ()
    checks: Mapping[str, VerifyCheck] = field(default_factory=dict)  # slot -> its current token checked now

    def token(self, token_id: str) -> AppToken | None:
        return next((t for t in self.tokens or () if t.id == token_id), None)

    @property
    def complete(self) -> bool:
        return self.tokens is not None and self.vault_complete


# -- iottly (verify-only) ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IottlyKeySpec:
    app: str
    slot: str
    secret: str
    max_age: timedelta
    declared_at: tuple[str, int] | None = field(default=None, compare=False)  # (policy file, line): reports


@dataclass(frozen=True)
class IottlyAppSpec:
    name: str
    base_url: str
    vault: str
    keys: tuple[IottlyKeySpec, ...]
    declared_at: tuple[str, int] | None = field(default=None, compare=False)  # (policy file, line): reports


# -- audit observations (gathered by the audit job, judged by the pure audit) -------------------------------
@dataclass(frozen=True)
class KeyCheck:
    """An iottly key: the versions of its vault secret and whether iottly accepts the current one."""

    app: str
    slot: str
    secret: str
    versions: tuple[SecretVersion, ...]
    valid: bool | None  # None: could not be checked (missing from the vault, iottly unreachable)
    error: str | None = None
