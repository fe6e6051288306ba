"""In-memory implementations of the ports (`IoTCentralPort`, `VaultPort`): pure Python, no I/O, with the
rules of the real services the protocol depends on, so the real executor runs against them unchanged.

- IoT Central: unique token ids (409 on an existing id), delete of a missing id is a 404 (False), a value
  authenticates only while its token exists and has not expired, listings in creation order.
- Key Vault: every write is a new version (created on the shared clock, to the second); a PATCH replaces
  the tags as a whole; a disabled version reads as 403; a deleted secret is soft-deleted: it lists as
  nothing, reads as 404 and refuses a new version with 409 until recovered or purged (by hand, or after
  the retention period). Knobs make the next listing lie (omit a token) or fail (`IncompleteListingError`).
Values stay plain strings inside the fake services, as in the real ones, and leave only as `Secret`.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from rotation.domain.ids import check_token_id
from rotation.domain.model import AppToken, RoleAssignment, SecretVersion
from rotation.domain.secret import Secret
from rotation.errors import (
    AuthError,
    IncompleteListingError,
    NotFoundError,
    ServiceError,
    ValidationError,
    VerificationError,
)

MAX_TAGS = 15
MAX_TAG_VALUE = 256
RETENTION = timedelta(days=90)


class ManualClock:
    """Time that moves only when told to: runs see one instant; rules between runs move it forward."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"clock start: got {start!r}, expected a timezone-aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"clock advance: got {delta}, expected a non-negative duration")
        self._now += delta
        return self._now

    def copy(self) -> ManualClock:
        return ManualClock(self._now)


def _rng_copy(rng: random.Random) -> random.Random:
    """An independent generator in the same state (a `SystemRandom` has no state: a fresh one will do)."""
    if isinstance(rng, random.SystemRandom):
        return random.SystemRandom()
    twin = random.Random()  # noqa: S311 -- test/simulator values, not credentials of a real service
    twin.setstate(rng.getstate())
    return twin


# -- IoT Central -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    info: AppToken
    value: str = field(repr=False)


@dataclass(frozen=True)
class Deletion:
    """A token deleted through the port (by the service), at the clock's time."""

    token_id: str
    at: datetime


@dataclass
class InMemoryIoTCentral:
    """One application's API tokens and roles. People act through `add_token`/`remove_token` (not recorded
    as the service's deletions); `delete_observers` see each token the service deletes, before it goes."""

    base_url: str
    clock: ManualClock
    roles: dict[str, str] = field(default_factory=dict)  # role id -> display name
    rng: random.Random = field(default_factory=random.SystemRandom)
    delete_observers: list[Callable[[AppToken], None]] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _omit_next: set[str] = field(default_factory=set)
    _fail_next: bool = False
    verify_calls: int = 0

    # -- knobs -------------------------------------------------------------------------------------------
    def omit_from_next_listing(self, token_id: str) -> None:
        """The next `list_tokens` answers without this token (a listing that lies)."""
        self._omit_next.add(token_id)

    def fail_next_listing(self) -> None:
        """The next `list_tokens` raises `IncompleteListingError` (a page that could not be read)."""
        self._fail_next = True

    # -- what people do in the web UI ----------------------------------------------------------------------
    def add_token(self, token_id: str, roles: frozenset[RoleAssignment], expiry: datetime) -> Secret:
        return self.create_token(token_id, roles, expiry)[1]

    def remove_token(self, token_id: str) -> bool:
        return self._tokens.pop(token_id, None) is not None

    def tokens(self) -> dict[str, AppToken]:
        """Every token as it really is (the truth a lying listing hides)."""
        return {token_id: token.info for token_id, token in self._tokens.items()}

    def copy(self, clock: ManualClock) -> InMemoryIoTCentral:
        """An independent twin on `clock` (same tokens and values, no observers, no pending knobs)."""
        return InMemoryIoTCentral(self.base_url, clock, dict(self.roles), _rng_copy(self.rng),
                                  _tokens=dict(self._tokens))

    # -- the port ------------------------------------------------------------------------------------------
    def list_tokens(self) -> list[AppToken]:
        omitted, self._omit_next = self._omit_next, set()
        if self._fail_next:
            self._fail_next = False
            raise IncompleteListingError(f"list API tokens of {self.base_url}: listing incomplete (HTTP 500)",
                                         status=500)
        return [token.info for token_id, token in self._tokens.items() if token_id not in omitted]

    def create_token(self, token_id: str, roles: frozenset[RoleAssignment],
                     expiry: datetime) -> tuple[AppToken, Secret]:
        check_token_id(token_id)
        now = self.clock.now()
        if token_id in self._tokens:
            raise ServiceError(f"create API token {token_id}: got HTTP 409 Conflict, expected a new id",
                               status=409, code="Conflict")
        unknown = sorted(r.role for r in roles if r.role not in self.roles)
        if not roles or unknown:
            raise ServiceError(f"create API token {token_id}: got HTTP 400 for roles {unknown or 'none'}, "
                               "expected roles of the app", status=400, code="BadRequest")
        if expiry <= now:
            raise ServiceError(f"create API token {token_id}: got HTTP 400 for expiry {expiry.isoformat()}, "
                               f"expected a time after {now.isoformat()}", status=400, code="BadRequest")
        expiry = expiry.astimezone(UTC).replace(microsecond=expiry.microsecond // 1000 * 1000)
        info = AppToken(token_id, frozenset(roles), expiry)
        signature = base64.b64encode(self.rng.randbytes(32)).decode()
        value = f"SharedAccessSignature sr={self.base_url}&sig={signature}&skn={token_id}&se={expiry.timestamp():.0f}"
        self._tokens[token_id] = _Token(info, value)
        return info, Secret(value)

    def delete_token(self, token_id: str) -> bool:
        check_token_id(token_id)
        token = self._tokens.get(token_id)
        if token is None:
            return False
        for observer in self.delete_observers:
            observer(token.info)
        del self._tokens[token_id]
        self.deletions.append(Deletion(token_id, self.clock.now()))
        return True

    def list_roles(self) -> dict[str, str]:
        return dict(self.roles)

    def verify(self, token: Secret, method: str, path: str) -> None:
        """Authenticates like the service: the value must be a live token's (exists, not expired)."""
        self.verify_calls += 1
        if not path.startswith("/api/"):
            raise ValidationError(f"verify path: got {path!r}, expected a path under /api/")
        value = token.reveal()
        now = self.clock.now()
        live = next((t for t in self._tokens.values() if t.value == value), None)
        if live is None or (live.info.expiry is not None and live.info.expiry <= now):
            raise VerificationError(f"verify with {method} {path}: got HTTP 401, expected 200")


# -- Key Vault -------------------------------------------------------------------------------------------
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

        return InMemoryVault(self.vault_url, clock, _rng_copy(self.rng), self.retention,
                             dup(self._live), dup(self._deleted))

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

    def get_value(self, name: str, version: str | None = None) -> Secret:
        record = self._version(name, version)
        if not record.props.enabled:
            raise AuthError(f"get {name}/{version or 'latest'}: got HTTP 403 Forbidden (SecretDisabled), "
                            "expected an enabled version", status=403, code="Forbidden")
        return Secret(record.value)

    def set_value(self, name: str, value: Secret, *, tags: Mapping[str, str], expires_on: datetime | None,
                  content_type: str) -> SecretVersion:
        key = self._key(name)
        if key in self._deleted:
            raise ServiceError(f"set {name}: got HTTP 409 Conflict (ObjectIsDeletedButRecoverable), expected a "
                               "secret that is not in the deleted state", status=409, code="Conflict")
        _check_tags(name, tags)
        secret = self._live.setdefault(key, _Secret(name, []))
        props = SecretVersion(secret.name, f"{self.rng.getrandbits(128):032x}",
                              self.clock.now().replace(microsecond=0), True, expires_on, dict(tags))
        secret.versions.append(_Version(props, value.reveal(), content_type))
        return props

    def update(self, name: str, version: str, *, tags: Mapping[str, str] | None = None,
               enabled: bool | None = None) -> SecretVersion:
        record = self._version(name, version)
        if tags is not None:
            _check_tags(name, tags)
        props = replace(record.props, tags=dict(tags) if tags is not None else record.props.tags,
                        enabled=record.props.enabled if enabled is None else enabled)
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
        raise ServiceError(f"set {name}: got {len(tags)} tags, too long: {long}, expected at most {MAX_TAGS} "
                           f"tags of at most {MAX_TAG_VALUE} characters", status=400, code="BadParameter")
