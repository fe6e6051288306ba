"""The in-memory Key Vault (`rotation.engine.memory`): every write is a new version (created on the shared
clock, to the second); a PATCH replaces the tags as a whole; a disabled version reads as 403; a deleted
secret is soft-deleted (lists as nothing, reads as 404, refuses a new version with 409 until recovered or
purged, by hand or after the retention period); a knob makes the next listing fail."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rotation.domain.model import SecretVersion
from rotation.domain.secret import Secret
from rotation.engine.memory_clock import ManualClock, rng_copy
from rotation.errors import AuthError, IncompleteListingError, NotFoundError, ServiceError

MAX_TAGS = 15
MAX_TAG_VALUE = 256
RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class _Version:
    props: SecretVersion
    value: str = field(repr=False)
    content_type: str | None = None


@dataclass
class _Secret:
    name: str  # as first created (names are case-insensitive)
    versions: list[_Version]
    deleted_on: datetime | None = None


@dataclass
class InMemoryVault:
    """One vault's secrets. People act through `delete_secret`/`recover_secret`/`purge_secret` and the
    port's own `update` (disabling a version by hand is the same PATCH)."""

    vault_url: str
    clock: ManualClock
    rng: random.Random = field(default_factory=random.SystemRandom)
    retention: timedelta = RETENTION
    _live: dict[str, _Secret] = field(default_factory=dict)
    _deleted: dict[str, _Secret] = field(default_factory=dict)
    _fail_next: set[str] = field(default_factory=set)

    def fail_next_listing(self, name: str) -> None:
        """The next listing of `name` raises `IncompleteListingError`."""
        self._fail_next.add(name.lower())

    def copy(self, clock: ManualClock) -> InMemoryVault:
        def dup(secrets: Mapping[str, _Secret]) -> dict[str, _Secret]:
            return {key: replace(s, versions=list(s.versions)) for key, s in secrets.items()}

        return InMemoryVault(
            self.vault_url, clock, rng_copy(self.rng), self.retention, dup(self._live), dup(self._deleted)
        )

    # -- what people do in the portal ----------------------------------------------------------------------
    def delete_secret(self, name: str, *, purge: bool = False) -> None:
        """Soft delete (recoverable for `retention`), and purge at once when asked."""
        secret = self._live.pop(self._key(name), None)
        if secret is None:
            raise _not_found("delete", name, "SecretNotFound", "a live secret")
        secret.deleted_on = self.clock.now()
        self._deleted[name.lower()] = secret
        if purge:
            self.purge_secret(name)

    def recover_secret(self, name: str) -> None:
        secret = self._deleted.pop(self._key(name), None)
        if secret is None:
            raise _not_found("recover", name, "DeletedSecretNotFound", "a deleted secret")
        secret.deleted_on = None
        self._live[name.lower()] = secret

    def purge_secret(self, name: str) -> None:
        if self._deleted.pop(self._key(name), None) is None:
            raise _not_found("purge", name, "DeletedSecretNotFound", "a deleted secret")

    def deleted_versions(self, name: str) -> list[SecretVersion] | None:
        """The versions of a soft-deleted secret (what a recovery brings back), None when not deleted."""
        secret = self._deleted.get(self._key(name))
        return None if secret is None else self._sorted(secret)

    def is_deleted(self, name: str) -> bool:
        return self._key(name) in self._deleted

    def versions(self, name: str) -> list[SecretVersion] | None:
        """The versions of a live secret as they really are (no knob applies), None when there is none."""
        secret = self._live.get(self._key(name))
        return None if secret is None else self._sorted(secret)

    # -- the port ------------------------------------------------------------------------------------------
    def read_versions(self, name: str) -> list[SecretVersion] | None:
        """Every version, oldest first; None when there is no such (live) secret."""
        key = self._key(name)
        if key in self._fail_next:
            self._fail_next.discard(key)
            raise IncompleteListingError(f"list versions of {name}: got HTTP 500, expected the versions", status=500)
        return self.versions(name)

    def list_versions(self, name: str) -> list[SecretVersion]:
        return self.read_versions(name) or []

    def confirm_absent(self, name: str) -> None:
        if self.versions(name):
            raise IncompleteListingError(f"list versions of {name}: got no versions of a secret that exists")

    def get_value(self, name: str, version: str | None = None) -> Secret:
        record = self._version(name, version)
        if not record.props.enabled:
            raise AuthError(
                f"get {name}/{version or 'latest'}: got HTTP 403 Forbidden (SecretDisabled), "
                "expected an enabled version",
                status=403,
                code="Forbidden",
            )
        return Secret(record.value)

    def set_value(
        self, name: str, value: Secret, *, tags: Mapping[str, str], expires_on: datetime | None, content_type: str
    ) -> SecretVersion:
        key = self._key(name)
        if key in self._deleted:
            raise ServiceError(
                f"set {name}: got HTTP 409 Conflict (ObjectIsDeletedButRecoverable), expected a "
                "secret that is not in the deleted state",
                status=409,
                code="Conflict",
            )
        _check_tags(name, tags)
        secret = self._live.setdefault(key, _Secret(name, []))
        props = SecretVersion(
            secret.name,
            f"{self.rng.getrandbits(128):032x}",
            self.clock.now().replace(microsecond=0),
            True,
            expires_on,
            dict(tags),
        )
        secret.versions.append(_Version(props, value.reveal(), content_type))
        return props

    def update(
        self, name: str, version: str, *, tags: Mapping[str, str] | None = None, enabled: bool | None = None
    ) -> SecretVersion:
        record = self._version(name, version)
        if tags is not None:
            _check_tags(name, tags)
        props = replace(
            record.props,
            tags=dict(tags) if tags is not None else record.props.tags,
            enabled=record.props.enabled if enabled is None else enabled,
        )
        secret = self._live[self._key(name)]
        secret.versions = [replace(v, props=props) if v is record else v for v in secret.versions]
        return props

    # -- plumbing ------------------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        """Names are case-insensitive; every access first purges what the retention period has ended."""
        self._purge_due()
        return name.lower()

    def _purge_due(self) -> None:
        now = self.clock.now()
        for key in [k for k, s in self._deleted.items() if s.deleted_on and s.deleted_on + self.retention <= now]:
            del self._deleted[key]

    @staticmethod
    def _sorted(secret: _Secret) -> list[SecretVersion]:
        """Oldest first, same-second versions by id: the order the Key Vault adapter gives."""
        return sorted((v.props for v in secret.versions), key=lambda p: (p.created_on, p.version))

    def _version(self, name: str, version: str | None) -> _Version:
        secret = self._live.get(self._key(name))
        if secret is not None and version is None and secret.versions:
            return secret.versions[-1]
        found = next((v for v in secret.versions if v.props.version == version), None) if secret else None
        if found is None:
            raise _not_found("get", f"{name}/{version or 'latest'}", "SecretNotFound", "a version of a live secret")
        return found


def _not_found(what: str, name: str, code: str, expected: str) -> NotFoundError:
    return NotFoundError(f"{what} {name}: got HTTP 404 {code}, expected {expected}", status=404, code=code)


def _check_tags(name: str, tags: Mapping[str, str]) -> None:
    """Key Vault's limits (15 tags, values up to 256 characters): the executor's tags must fit them."""
    long = sorted(k for k, v in tags.items() if len(v) > MAX_TAG_VALUE)
    if len(tags) > MAX_TAGS or long:
        raise ServiceError(
            f"set {name}: got {len(tags)} tags, too long: {long}, expected at most {MAX_TAGS} "
            f"tags of at most {MAX_TAG_VALUE} characters",
            status=400,
            code="BadParameter",
        )
