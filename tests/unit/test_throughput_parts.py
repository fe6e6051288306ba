"""The throughput parts of issue 14: the client-side limiters (IoT Central per app, Key Vault per vault host
and operation kind) and the default concurrency. Every wait is computed on an injected clock and handed to
an injected sleep: the assertions are on exact waits and exact counts, never on elapsed time."""

from __future__ import annotations

import threading
from collections.abc import Callable

from azure.identity import ManagedIdentityCredential
from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.conformance import SpecConformance
from emulators.core import Fault, SandboxAuthority, SandboxCA
from emulators.identity import ManagedIdentity
from rotation.adapters.http import RateLimiter, shared_rate_limiter
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.adapters.ratelimit import SlidingWindowLimiter
from rotation.adapters.vault_limits import CLIENT, DOCUMENTED, VaultLimits, VaultRateLimiter, operation_kind
from rotation.domain.secret import Secret
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.keyvault_support import running_vault


class FakeClock:
    """Time that moves only when someone sleeps (or the test says so); every sleep is recorded."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


# -- the sliding window --------------------------------------------------------------------------------------


def test_the_request_after_a_full_window_waits_exactly_the_time_left() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire("https://a.azureiotcentral.com") for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now = 0.25
    assert limiter.acquire("https://a.azureiotcentral.com") == 0.75  # the first leaves the window at 1.0
    assert clock.sleeps == [0.75]  # one exact sleep, no polling
    assert clock.now == 1.0
    assert [limiter.acquire("https://a.azureiotcentral.com") for _ in range(2)] == [0.0, 0.0]  # 2nd, 3rd left
    assert limiter.acquire("https://a.azureiotcentral.com") == 1.0  # three at 1.0: the next goes at 2.0
    assert clock.sleeps == [0.75, 1.0]


def test_keys_do_not_share_a_budget() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 10.0, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire("a"), limiter.acquire("a")] == [0.0, 0.0]
    assert [limiter.acquire("b"), limiter.acquire("b")] == [0.0, 0.0]
    assert limiter.acquire("a") == 10.0
    assert clock.sleeps == [10.0]


def test_threads_on_one_key_each_reserve_their_own_slot() -> None:
    """40 requests from 8 threads at one instant, 3 per second: slots 0,0,0,1,1,1,2,… whatever the order."""
    clock = FakeClock()
    slept: list[float] = []
    guard = threading.Lock()

    def record(seconds: float) -> None:  # the clock stays at 0: each wait is the slot itself
        with guard:
            slept.append(seconds)

    limiter = SlidingWindowLimiter(3, 1.0, clock=clock, sleep=record)
    waits: list[float] = []

    def worker() -> None:
        for _ in range(5):
            wait = limiter.acquire("app")
            with guard:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [float(i // 3) for i in range(40)]
    assert sorted(slept) == [float(i // 3) for i in range(3, 40)]  # a zero wait does not sleep


def test_a_sleeping_caller_does_not_hold_the_lock() -> None:
    """The slot is reserved under the lock, the sleep happens outside it: another key is not held up."""
    sleeping, release = threading.Event(), threading.Event()

    def blocking_sleep(seconds: float) -> None:
        sleeping.set()
        release.wait()

    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 1.0, clock=clock, sleep=blocking_sleep)
    limiter.acquire("a")
    waiter = threading.Thread(target=limiter.acquire, args=("a",))
    waiter.start()
    sleeping.wait()
    other = threading.Thread(target=limiter.acquire, args=("b",))
    other.start()
    other.join(timeout=30)  # a guard against a deadlock, not a timing: it returns at once or never
    deadlocked = other.is_alive()
    release.set()
    waiter.join()
    other.join()
    assert not deadlocked


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=40),
)
def test_never_more_than_the_limit_in_any_window(limit: int, gaps: list[int]) -> None:
    """Arrivals at random instants (ms, integers: exact arithmetic); each caller is its own thread, so it
    arrives at its instant whatever the others wait. No window of 1000 ms ever holds more than `limit`
    grants, and every wait is the least one: a caller waits only up to a window's edge or a queued slot."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit, 1000.0, clock=clock, sleep=lambda _: None)
    slots: list[float] = []
    for gap in gaps:
        clock.now += gap
        wait = limiter.acquire("app")
        slot = clock.now + wait
        assert wait >= 0
        if wait > 0:
            assert slot == slots[-1] or (len(slots) >= limit and slot == slots[-limit] + 1000.0)
        slots.append(slot)
    assert slots == sorted(slots)
    assert all(slots[i] - slots[i - limit] >= 1000.0 for i in range(limit, len(slots)))


def test_every_runtime_of_the_process_shares_the_iot_central_budget() -> None:
    """A Runtime is built per invocation: overlapping timers (or queue messages) on one app must not each
    get their own 15 requests/s of IoT Central's 20 per app."""
    settings = Settings.from_env({})
    first, second = Runtime(settings, []), Runtime(settings, [])
    assert first._limiter is second._limiter is shared_rate_limiter(15)
    assert shared_rate_limiter(10) is not shared_rate_limiter(15)


# -- Key Vault ---------------------------------------------------------------------------------------------


def test_vault_limits_are_the_documented_ones_at_a_margin() -> None:
    assert (DOCUMENTED.create, DOCUMENTED.other, DOCUMENTED.window) == (300, 4000, 10.0)
    assert (CLIENT.create, CLIENT.other, CLIENT.window) == (225, 3000, 10.0)
    assert operation_kind("PUT", "https://kv.vault.azure.net/secrets/iotc-a?api-version=7.6") == "create"
    for method, path in [("GET", "/secrets/a/versions"), ("PATCH", "/secrets/a/v1"), ("POST", "/secrets/restore")]:
        assert operation_kind(method, "https://kv.vault.azure.net" + path) == "other"
    assert operation_kind("PUT", "https://kv.vault.azure.net/deletedsecrets/a") == "other"


def _secrets(url: str, ca: SandboxCA, limiter: VaultRateLimiter) -> KeyVaultSecrets:
    return KeyVaultSecrets(
        build_secret_client(url, ManagedIdentityCredential(), ca_bundle=str(ca.pem_path), vault_limiter=limiter)
    )


def test_the_vault_policy_keys_by_host_and_kind_and_counts_retries(
    authority: SandboxAuthority,
    sandbox_ca: SandboxCA,
    conformance: dict[str, SpecConformance],
    managed_identity_env: ManagedIdentity,
) -> None:
    """One request per 10 s per vault and kind: through the real SecretClient against two emulated vaults,
    the second vault and the creates each have their own budget, and a retried request is acquired again."""
    clock = FakeClock()
    limiter = VaultRateLimiter(VaultLimits(create=1, other=1), clock=clock, sleep=clock.sleep)
    args = (authority, sandbox_ca, conformance, managed_identity_env)
    with running_vault(*args) as first, running_vault(*args) as second:
        a, b = _secrets(first.url, sandbox_ca, limiter), _secrets(second.url, sandbox_ca, limiter)
        steps: list[tuple[Callable[[], object], list[float]]] = [
            (lambda: a.list_versions("absent"), []),
            (lambda: a.list_versions("absent"), [10.0]),  # vault a's one "other" per 10 s is spent
            (lambda: b.list_versions("absent"), [10.0]),  # vault b: its own budget
            (lambda: b.list_versions("absent"), [10.0, 10.0]),
            (lambda: a.set_value("s", Secret("v1"), tags={}, expires_on=None, content_type="text/plain"), [10.0] * 2),
            (lambda: a.set_value("s", Secret("v2"), tags={}, expires_on=None, content_type="text/plain"), [10.0] * 3),
        ]
        for step, sleeps in steps:
            step()
            assert clock.sleeps == sleeps
        first.emulator.faults.add(Fault("error", route="GetSecretVersions", status=503, times=1))
        a.list_versions("s")  # two attempts: the first goes at once (t=30), the retry waits for t=40
        assert clock.sleeps == [10.0] * 4
        assert first.emulator.counters.get("GetSecretVersions", 503) == 1
        a.close()
        b.close()


# -- concurrency -------------------------------------------------------------------------------------------


def test_the_default_concurrency_is_the_measured_one() -> None:
    assert Settings.from_env({}).max_concurrency == 16
