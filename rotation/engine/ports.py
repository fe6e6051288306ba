"""The ports the engine drives. Adapters implement them over the real clients (httpx, Azure SDK);
nothing else in the product does I/O. `Connections` is what the jobs and the one-off operations need
from their host (`rotation.hosting.runtime.Runtime` satisfies it), so the engine imports only the domain
and its own modules, never hosting or adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from rotation.domain.model import AppSpec, AppToken, RoleAssignment, SecretVersion
from rotation.domain.secret import Secret


class IoTCentralPort(Protocol):
    """One IoT Central application's data plane."""

    base_url: str

    def list_tokens(self) -> list[AppToken]:
        """Every token of the app (all pages) or `IncompleteListingError`."""
        ...

    def create_token(
        self, token_id: str, roles: frozenset[RoleAssignment], expiry: datetime
    ) -> tuple[AppToken, Secret]: ...

    def delete_token(self, token_id: str) -> bool:
        """True when deleted, False when it was already gone (404 counts as done)."""
        ...

    def list_roles(self) -> dict[str, str]: ...

    def verify(self, token: Secret, method: str, path: str) -> None:
        """Call the app with `token`; raises `VerificationError` or `AuthError`."""
        ...


class VaultPort(Protocol):
    """One Key Vault's secrets."""

    vault_url: str

    def list_versions(self, name: str) -> list[SecretVersion]:
        """Every version of a secret, oldest first; empty when the secret does not exist."""
        ...

    def read_versions(self, name: str) -> list[SecretVersion] | None:
        """Every version of a secret, oldest first; None only when the secret is known not to exist.
        A listing that cannot be trusted raises `IncompleteListingError`."""
        ...

    def confirm_absent(self, name: str) -> None:
        """Returns only on positive evidence that the secret does not exist (what an empty listing is
        taken to mean); raises `IncompleteListingError` when it exists or that cannot be told. One
        GetSecret: `read_versions` is this after an empty listing."""
        ...

    def get_value(self, name: str, version: str | None = None) -> Secret: ...

    def set_value(
        self, name: str, value: Secret, *, tags: Mapping[str, str], expires_on: datetime | None, content_type: str
    ) -> SecretVersion: ...

    def update(
        self, name: str, version: str, *, tags: Mapping[str, str] | None = None, enabled: bool | None = None
    ) -> SecretVersion: ...


class IottlyPort(Protocol):
    def ping(self, key: Secret) -> bool:
        """True when iottly accepts the key, False on 401; raises `ServiceError` otherwise."""
        ...


class AppLock(Protocol):
    """One app's lock across runs (timer invocations, scale-out instances, a manual run): whoever holds it
    is the only one changing that app. Non-blocking: a run that cannot take it skips the app."""

    name: str

    def try_acquire(self) -> bool:
        """True when taken (and kept alive until `release`), False when someone else holds it."""
        ...

    def release(self) -> None:
        """Gives the lock back; never raises (an unreleased lease still expires by itself)."""
        ...

    @property
    def lost(self) -> str | None:
        """Why the lock was lost while held (renewal refused), else None."""
        ...


class AdminIoTCentral(Protocol):
    """An app's data plane called with a one-off admin API token (bootstrap, store-api-token)."""

    def list_roles(self) -> dict[str, str]: ...

    def list_tokens(self) -> list[AppToken]: ...

    def get_user(self, user_id: str) -> dict[str, Any] | None: ...

    def put_service_principal(
        self, user_id: str, *, object_id: str, tenant_id: str, roles: frozenset[RoleAssignment]
    ) -> dict[str, Any]: ...


class ConcurrencySettings(Protocol):
    @property
    def max_concurrency(self) -> int: ...


class Connections(Protocol):
    """What the engine's jobs and operations need from their host: the declared apps, the clock, a port per
    app and vault, the app locks, and the service's own identity."""

    @property
    def apps(self) -> Sequence[AppSpec]: ...

    @property
    def settings(self) -> ConcurrencySettings: ...

    def now(self) -> datetime: ...

    def iotcentral(self, app: AppSpec) -> IoTCentralPort: ...

    def vault(self, url: str) -> VaultPort: ...

    def app_lock(self, app_name: str) -> AppLock: ...

    def iottly(self, base_url: str) -> IottlyPort: ...

    def admin_iotcentral(self, base_url: str, token: Secret) -> AdminIoTCentral:
        """The app called with `token` instead of the service's identity."""
        ...

    def identity_token(self) -> str:
        """This service's own access token for IoT Central (its claims name the identity)."""
        ...
