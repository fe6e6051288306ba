"""`rotation.consumer`'s pure parts: the cache's TTL, expiry, single read for many threads, stale value
within the grace, `max_age` validation, the grace warning, and what the package imports."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from rotation.consumer import APP_SERVICE_REFERENCE_REFRESH, CachedToken, TokenCache, grace_warning
from rotation.domain.secret import Secret
from rotation.errors import ConfigError, ServiceError

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Vault:
    """A reader handing out v1, v2, ... (or failing when told to): counts its reads."""

    def __init__(self, expires_in: timedelta | None = None) -> None:
        self.reads = 0
        self.fail = False
        self.same = False  # hand back the first value on every read (a vault that holds no newer one)
        self.expires_in = expires_in
        self.now = T0

    def __call__(self) -> CachedToken:
        self.reads += 1
        if self.fail:
            raise ServiceError("get s/latest: got HTTP 503")
        expiry = self.now + self.expires_in if self.expires_in else None
        n = 1 if self.same else self.reads
        return CachedToken(Secret(f"SharedAccessSignature sr=a&sig=s{n}&skn=t&se=1"), f"v{n}", expiry)

    def clock(self) -> datetime:
        return self.now


def _cache(vault: Vault, max_age: timedelta = 6 * HOUR, grace: timedelta | None = 24 * HOUR) -> TokenCache:
    return TokenCache(vault, max_age=max_age, grace=grace, clock=vault.clock)


def test_the_value_is_re_read_once_it_is_max_age_old() -> None:
    vault = Vault()
    cache = _cache(vault)
    first = cache.token()
    vault.now += 6 * HOUR - timedelta(seconds=1)
    assert cache.token() is first
    vault.now += timedelta(seconds=1)
    assert cache.token() != first
    assert (vault.reads, cache.reads, cache.version) == (2, 2, "v2")


def test_a_value_is_not_served_past_its_own_expiry() -> None:
    vault = Vault(expires_in=2 * HOUR)
    cache = _cache(vault)
    cache.token()
    vault.now += 2 * HOUR
    cache.token()
    assert vault.reads == 2


def test_many_threads_asking_at_once_cause_one_read() -> None:
    vault = Vault()
    cache = _cache(vault)
    got: list[Secret] = []
    threads = [threading.Thread(target=lambda: got.append(cache.token())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert vault.reads == 1
    assert len(set(got)) == 1


def test_a_refused_value_already_replaced_by_another_thread_is_not_read_again() -> None:
    vault = Vault()
    cache = _cache(vault)
    old = cache.token()
    new = cache.refresh(refused=old)  # this caller's 401
    assert cache.refresh(refused=old) == new  # a second caller's 401 with the same old value
    assert (vault.reads, cache.refused) == (2, 2)


def test_a_refused_value_the_vault_still_holds_is_not_read_again_for_a_while() -> None:
    vault = Vault()
    vault.same = True
    cache = _cache(vault)
    value = cache.token()
    assert cache.refresh(refused=value) == value  # the vault holds no other: one re-read
    vault.now += timedelta(seconds=29)
    assert cache.refresh(refused=value) == value  # a busy app's next 401s cost no read
    assert (vault.reads, cache.refused) == (2, 2)
    vault.now += timedelta(seconds=1)
    assert cache.refresh(refused=value) == value  # 30 s later: the vault is asked again
    assert vault.reads == 3
    vault.same = False
    vault.now += timedelta(seconds=30)
    fixed = cache.refresh(refused=value)  # someone rotated the slot meanwhile
    assert fixed != value
    assert cache.refresh(refused=fixed) != fixed  # a newer value is never taken for the refused one
    assert vault.reads == 5


def test_a_failed_re_read_keeps_the_value_while_it_is_younger_than_the_grace() -> None:
    vault = Vault()
    cache = _cache(vault)
    value = cache.token()
    vault.fail = True
    vault.now += 7 * HOUR
    assert cache.token() == value
    vault.now += 17 * HOUR  # 24 h since the read: it may be revoked now
    with pytest.raises(ServiceError, match="503"):
        cache.token()


def test_a_failed_re_read_never_serves_the_value_that_was_refused() -> None:
    vault = Vault()
    cache = _cache(vault)
    value = cache.token()
    vault.fail = True
    with pytest.raises(ServiceError):
        cache.refresh(refused=value)


def test_without_a_grace_a_failed_re_read_raises() -> None:
    vault = Vault()
    cache = _cache(vault, grace=None)
    cache.token()
    vault.fail = True
    vault.now += 7 * HOUR
    with pytest.raises(ServiceError):
        cache.token()


@pytest.mark.parametrize(
    ("max_age", "grace", "expected"),
    [
        (24 * HOUR, 24 * HOUR, "less than the slot's grace"),
        (25 * HOUR, 24 * HOUR, "less than the slot's grace"),
        (timedelta(0), None, "a positive duration"),
    ],
)
def test_max_age_must_be_positive_and_below_the_grace(
    max_age: timedelta, grace: timedelta | None, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        TokenCache(Vault(), max_age=max_age, grace=grace)


def test_the_value_never_reaches_a_log_or_a_repr(caplog: pytest.LogCaptureFixture) -> None:
    vault = Vault()
    cache = _cache(vault)
    caplog.set_level(logging.DEBUG)
    value = cache.token()
    vault.fail = True
    vault.now += 7 * HOUR
    cache.token()
    text = caplog.text + repr(cache.token()) + repr(CachedToken(value, "v1"))
    assert "sig=" not in text
    assert "v1" in caplog.text


def test_the_grace_warning_for_an_app_service_key_vault_reference() -> None:
    assert grace_warning("slot contoso-fleet/dashboard-reader", 48 * HOUR, APP_SERVICE_REFERENCE_REFRESH) is None
    line = grace_warning(
        "slot contoso-fleet/dashboard-reader",
        24 * HOUR,
        APP_SERVICE_REFERENCE_REFRESH,
        consumer="App Service Key Vault reference",
    )
    assert line == (
        "slot contoso-fleet/dashboard-reader: got grace P1D, expected more than P1DT1H (App Service "
        "Key Vault reference re-reads the secret every P1D, plus a margin of PT1H): it may be left "
        "holding a revoked token"
    )
    assert grace_warning("s", 25 * HOUR, 24 * HOUR) is not None  # not more than refresh + margin
    assert grace_warning("s", 25 * HOUR, 24 * HOUR, margin=timedelta(0)) is None


def test_the_package_imports_no_engine_hosting_policy_or_pydantic() -> None:
    code = (
        "import sys, rotation.consumer; print(','.join(sorted(m for m in sys.modules if m.startswith("
        "('rotation.engine', 'rotation.hosting', 'rotation.policy', 'rotation.audit', 'rotation.cli', "
        "'pydantic', 'tenacity', 'structlog', 'typer', 'azure.identity', 'ruamel')))))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert found.stdout.strip() == ""
