"""A thread-safe cache of one slot's token: re-read from Key Vault once it is `max_age` old (or past its
own expiry), at once when a caller reports the value refused.

Why a TTL below the grace: the service revokes a superseded token only once `grace` has passed since its
successor became current, so a value read at R works until at least R + grace. A cache that never serves
a value older than `max_age` < `grace` therefore never serves a revoked token in normal operation. The
same rule lets a failed re-read keep serving the cached value while it is younger than the grace (a Key
Vault outage then does not stop the consumer), and only then raise.

The clock is injectable (tests, the sandbox's time travel); one lock serialises the reads, so many
threads asking at once cause one Key Vault read, not one each. A value the vault still held when it was
last reported refused is not read again for `recheck_refused` (30 s): a busy app whose token is broken
would otherwise cost one Key Vault read per request and get the whole vault throttled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rotation.domain.secret import Secret
from rotation.errors import ConfigError, RotationError

log = logging.getLogger("rotation.consumer")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CachedToken:
    """What a read returned: the value (a `Secret`), and the version's id and expiry (never secret)."""

    value: Secret
    version: str
    expires_on: datetime | None = None


Reader = Callable[[], CachedToken]
RECHECK_REFUSED = timedelta(seconds=30)


def check_max_age(max_age: timedelta, grace: timedelta | None) -> timedelta:
    """`max_age` must be positive and, when the slot's grace is known, strictly below it."""
    if max_age <= timedelta(0):
        raise ConfigError(f"max_age: got {max_age}, expected a positive duration")
    if grace is not None and max_age >= grace:
        raise ConfigError(
            f"max_age: got {max_age}, expected less than the slot's grace period {grace} "
            "(a value older than the grace may already be revoked)"
        )
    return max_age


class TokenCache:
    def __init__(
        self,
        read: Reader,
        *,
        max_age: timedelta,
        grace: timedelta | None = None,
        clock: Callable[[], datetime] = utc_now,
        recheck_refused: timedelta = RECHECK_REFUSED,
    ) -> None:
        self._read = read
        self.max_age = check_max_age(max_age, grace)
        self.grace = grace
        self._clock = clock
        self._lock = threading.Lock()
        self._entry: CachedToken | None = None
        self._read_at: datetime | None = None
        self.recheck_refused = recheck_refused
        self._confirmed_refused_at: datetime | None = None  # when the vault last handed back a refused value
        self.reads = 0  # Key Vault reads attempted (successful or not)
        self.refused = 0  # values reported refused (a 401) by callers

    @property
    def version(self) -> str | None:
        """The cached version's id (for logs and tests; never the value)."""
        return self._entry.version if self._entry else None

    def token(self) -> Secret:
        """The cached value while it is fresh, else a new read."""
        with self._lock:
            if self._entry is not None and self._fresh(self._entry):
                return self._entry.value
            return self._reload()

    def refresh(self, refused: Secret | None = None) -> Secret:
        """A new read, because `refused` was refused. When another thread already replaced that value,
        its newer value is returned without reading again; when the vault handed back this very value
        less than `recheck_refused` ago, it is returned as is (reading again would only repeat it)."""
        with self._lock:
            if refused is None:
                return self._reload()
            self.refused += 1
            if self._entry is not None and self._entry.value != refused:
                return self._entry.value
            if self._recently_confirmed():
                return refused
            value = self._reload(refused=refused)
            if value == refused:
                self._confirmed_refused_at = self._clock()
                log.warning("the app refused version %s and the vault holds no other", self.version)
            return value

    def _recently_confirmed(self) -> bool:
        at = self._confirmed_refused_at
        return at is not None and self._clock() - at < self.recheck_refused

    def _fresh(self, entry: CachedToken) -> bool:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self.max_age:
            return False
        return entry.expires_on is None or now < entry.expires_on

    def _reload(self, refused: Secret | None = None) -> Secret:
        self.reads += 1
        try:
            entry = self._read()
        except RotationError as exc:
            stale = self._entry
            if stale is None or stale.value == refused or not self._within_grace(stale):
                raise
            log.warning("token re-read failed, keeping version %s (younger than the grace): %s", stale.version, exc)
            return stale.value
        if self._entry is None or entry.value != self._entry.value:
            self._confirmed_refused_at = None
        self._entry, self._read_at = entry, self._clock()
        log.info("token read: version %s", entry.version)
        return entry.value

    def _within_grace(self, entry: CachedToken) -> bool:
        now = self._clock()
        if self.grace is None or self._read_at is None or now - self._read_at >= self.grace:
            return False
        return entry.expires_on is None or now < entry.expires_on
