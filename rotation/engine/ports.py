"""The ports the executor drives. Adapters implement them over the real clients (httpx, Azure SDK);
nothing else in the product does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from rotation.domain.model import AppToken, RoleAssignment, SecretVersion
from rotation.domain.secret import Secret


class IoTCentralPort(Protocol):
    """One IoT Central application's data plane."""

    base_url: str

    def list_tokens(self) -> list[AppToken]:
        """Every token of the app (all pages) or `IncompleteListingError`."""
        ...

    def create_token(self, token_id: str, roles: frozenset[RoleAssignment],
                     expiry: datetime) -> tuple[AppToken, Secret]: ...

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

    def get_value(self, name: str, version: str | None = None) -> Secret: ...

    def set_value(self, name: str, value: Secret, *, tags: Mapping[str, str], expires_on: datetime | None,
                  content_type: str) -> SecretVersion: ...

    def update(self, name: str, version: str, *, tags: Mapping[str, str] | None = None,
               enabled: bool | None = None) -> SecretVersion: ...


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
