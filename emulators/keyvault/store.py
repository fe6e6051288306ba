"""The state of one vault: secrets, their versions, and the soft-deleted ones, with the real service's rules.

Kept apart from HTTP so that the sandbox and tests seed and inspect it in plain Python with exactly the
limits the API enforces. Names are case-insensitive, as in Key Vault, but keep the casing they were
first created with. Versions are immutable records (a PATCH replaces one), so what a caller gets back is
a snapshot that no other thread can change under it. Soft-deleted secrets are purged by the service at
their `scheduledPurgeDate`, measured on the emulated clock, so a test can jump 90 days ahead.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypedDict

from emulators.core import Clock
from emulators.keyvault import errors

NAME_PATTERN = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
MAX_VALUE_BYTES = 25_600
MAX_TAGS = 15
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret, value included (only the emulator and tests see values this way)."""

    name: str
    version: str
    value: str
    created_on: datetime
    updated_on: datetime
    enabled: bool = True
    not_before: datetime | None = None
    expires_on: datetime | None = None
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretSnapshot:
    """A secret at one instant: its versions oldest first (the last is the current one)."""

    name: str
    versions: tuple[SecretVersion, ...]
    deleted_on: datetime | None = None
    scheduled_purge: datetime | None = None

    @property
    def latest(self) -> SecretVersion:
        return self.versions[-1]


class VersionChanges(TypedDict, total=False):
    """What a PATCH may change; a key that is absent stays as it was."""

    enabled: bool
    not_before: datetime | None
    expires_on: datetime | None
    content_type: str | None
    tags: dict[str, str]


@dataclass
class _Secret:
    name: str
    versions: list[SecretVersion]
    deleted_on: datetime | None = None
    scheduled_purge: datetime | None = None

    def snapshot(self) -> SecretSnapshot:
        return SecretSnapshot(self.name, tuple(self.versions), self.deleted_on, self.scheduled_purge)


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise errors.bad_parameter(f"The request URI contains an invalid name: {name}")


def check_value(value: str) -> None:
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise errors.bad_parameter(
            f"Secret value is too large: got {size} bytes, the maximum is {MAX_VALUE_BYTES} bytes (25 KB)."
        )


def check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.bad_parameter(f"Too many tags: got {len(tags)}, the maximum is {MAX_TAGS}.")
    for key, value in tags.items():
        if len(key) > MAX_TAG_NAME:
            raise errors.bad_parameter(
                f"Tag name is too long: got {len(key)} characters, the maximum is {MAX_TAG_NAME}."
            )
        if len(value) > MAX_TAG_VALUE:
            raise errors.bad_parameter(
                f"Value of tag {key!r} is too long: got {len(value)} characters, the maximum is {MAX_TAG_VALUE}."
            )


def recovery_level(retention_days: int, purge_protection: bool) -> str:
    """The DeletionRecoveryLevel the real service reports for a vault with these settings."""
    base = "Recoverable" if retention_days == 90 else "CustomizedRecoverable"
    return base if purge_protection else f"{base}+Purgeable"


class VaultStore:
    """Thread-safe: every public method holds the one lock for its whole read-modify-write."""

    def __init__(
        self, clock: Clock, *, vault_name: str, retention_days: int = 90, purge_protection: bool = False
    ) -> None:
        if not 7 <= retention_days <= 90:
            raise ValueError(f"retention_days: got {retention_days}, expected 7..90 (Key Vault's soft-delete range)")
        self.clock = clock
        self.vault_name = vault_name
        self.retention_days = retention_days
        self.purge_protection = purge_protection
        self._lock = threading.RLock()
        self._live: dict[str, _Secret] = {}
        self._deleted: dict[str, _Secret] = {}

    @property
    def recovery_level(self) -> str:
        return recovery_level(self.retention_days, self.purge_protection)

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def _purge_due(self) -> None:
        now = self._now()
        for key in [k for k, s in self._deleted.items() if s.scheduled_purge is not None and s.scheduled_purge <= now]:
            del self._deleted[key]

    # -- secrets -----------------------------------------------------------------------------------------
    def set(
        self,
        name: str,
        value: str,
        *,
        enabled: bool = True,
        not_before: datetime | None = None,
        expires_on: datetime | None = None,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        created_on: datetime | None = None,
    ) -> SecretVersion:
        """Adds a version (the new current one), creating the secret if needed."""
        check_name(name)
        check_value(value)
        check_tags(tags or {})
        with self._lock:
            self._purge_due()
            key = name.lower()
            if key in self._deleted:
                raise errors.deleted_but_recoverable(self._deleted[key].name)
            secret = self._live.setdefault(key, _Secret(name, []))
            when = (created_on or self._now()).replace(microsecond=0)
            record = SecretVersion(
                name=secret.name,
                version=uuid.uuid4().hex,
                value=value,
                created_on=when,
                updated_on=when,
                enabled=enabled,
                not_before=not_before,
                expires_on=expires_on,
                content_type=content_type,
                tags=dict(tags or {}),
            )
            secret.versions.append(record)
            return record

    def get(self, name: str, version: str = "") -> SecretVersion:
        """A version (the current one when `version` is empty), whatever its `enabled`."""
        with self._lock:
            self._purge_due()
            secret = self._live.get(name.lower())
            if secret is None:
                raise errors.secret_not_found(name, version)
            if not version:
                return secret.versions[-1]
            for record in secret.versions:
                if record.version == version.lower():
                    return record
            raise errors.secret_not_found(name, version)

    def update(self, name: str, version: str, changes: VersionChanges) -> SecretVersion:
        if "tags" in changes:
            check_tags(changes["tags"])
        with self._lock:
            current = self.get(name, version)
            updated = replace(current, **changes, updated_on=self._now())
            secret = self._live[name.lower()]
            secret.versions = [updated if v.version == current.version else v for v in secret.versions]
            return updated

    def secrets(self) -> list[SecretSnapshot]:
        """Live secrets in the service's listing order (by name, case-insensitively)."""
        with self._lock:
            self._purge_due()
            return [self._live[key].snapshot() for key in sorted(self._live)]

    def versions(self, name: str) -> list[SecretVersion]:
        """Versions of a live secret, oldest first; none for an unknown name (as the service lists)."""
        with self._lock:
            self._purge_due()
            secret = self._live.get(name.lower())
            return list(secret.versions) if secret else []

    # -- soft delete -------------------------------------------------------------------------------------
    def delete(self, name: str) -> SecretSnapshot:
        with self._lock:
            self._purge_due()
            secret = self._live.pop(name.lower(), None)
            if secret is None:
                raise errors.secret_not_found(name)
            secret.deleted_on = self._now()
            secret.scheduled_purge = secret.deleted_on + timedelta(days=self.retention_days)
            self._deleted[name.lower()] = secret
            return secret.snapshot()

    def deleted(self, name: str) -> SecretSnapshot:
        with self._lock:
            self._purge_due()
            secret = self._deleted.get(name.lower())
            if secret is None:
                raise errors.deleted_secret_not_found(name)
            return secret.snapshot()

    def deleted_secrets(self) -> list[SecretSnapshot]:
        with self._lock:
            self._purge_due()
            return [self._deleted[key].snapshot() for key in sorted(self._deleted)]

    def is_deleted(self, name: str) -> bool:
        with self._lock:
            self._purge_due()
            return name.lower() in self._deleted

    def purge(self, name: str) -> None:
        with self._lock:
            self.deleted(name)
            if self.purge_protection:
                raise errors.purge_protected(self.vault_name)
            del self._deleted[name.lower()]

    def recover(self, name: str) -> SecretSnapshot:
        with self._lock:
            self.deleted(name)
            secret = self._deleted.pop(name.lower())
            secret.deleted_on = secret.scheduled_purge = None
            self._live[name.lower()] = secret
            return secret.snapshot()
