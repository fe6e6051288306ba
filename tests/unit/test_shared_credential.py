"""`SharedCredential` over a counting credential and a fake clock: one request per token however many
threads ask, reuse until 5 minutes before expiry (or `refresh_on`), claims and tenants apart."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential, TokenRequestOptions

from rotation.adapters.identity import REFRESH_BEFORE, SharedCredential

START = 1_000_000.0
LIFETIME = 3600


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Counting:
    """A TokenCredential that counts its requests; `hold` keeps the first one until `release` is set."""

    def __init__(self, clock: Clock, *, refresh_in: int | None = None) -> None:
        self.clock = clock
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.refresh_in = refresh_in
        self.fail = False
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.release.wait()
        with self._lock:
            self.calls.append((scopes, kwargs))
            n = len(self.calls)
        if self.fail:
            raise RuntimeError("identity endpoint down")
        return AccessToken(f"token-{n}", int(self.clock.now) + LIFETIME)


class WithInfo(Counting):
    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        token = self.get_token(*scopes, **dict(options or {}))
        refresh = None if self.refresh_in is None else int(self.clock.now) + self.refresh_in
        return AccessTokenInfo(token.token, token.expires_on, refresh_on=refresh)


SCOPE = "https://apps.azureiotcentral.com/.default"


def test_many_threads_asking_together_make_one_request() -> None:
    clock = Clock()
    inner = Counting(clock)
    shared = SharedCredential(inner, clock=clock)
    threads = 16
    arrived = threading.Barrier(threads + 1)
    inner.release.clear()

    def ask(_: int) -> str:
        arrived.wait()
        return shared.get_token(SCOPE).token

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(ask, i) for i in range(threads)]
        arrived.wait()  # every thread is past the barrier, on its way into get_token
        inner.release.set()
        tokens = {f.result() for f in futures}
    assert tokens == {"token-1"}
    assert len(inner.calls) == 1


def test_the_token_is_reused_until_five_minutes_before_it_expires() -> None:
    clock = Clock()
    inner = Counting(clock)
    shared = SharedCredential(inner, clock=clock)
    assert shared.get_token(SCOPE).token == "token-1"
    clock.now = START + LIFETIME - REFRESH_BEFORE - 1
    assert shared.get_token(SCOPE).token == "token-1"
    clock.now = START + LIFETIME - REFRESH_BEFORE
    assert shared.get_token(SCOPE).token == "token-2"
    assert len(inner.calls) == 2


def test_refresh_on_is_honoured_and_a_failed_early_refresh_keeps_the_valid_token() -> None:
    clock = Clock()
    inner = WithInfo(clock, refresh_in=1800)
    shared = SharedCredential(inner, clock=clock)
    first = shared.get_token_info(SCOPE)
    assert (first.token, first.refresh_on) == ("token-1", int(START) + 1800)
    clock.now = START + 1799
    assert shared.get_token_info(SCOPE).token == "token-1"
    clock.now = START + 1800
    inner.fail = True
    assert shared.get_token_info(SCOPE).token == "token-1"  # refresh failed, the token is still good
    inner.fail = False
    assert shared.get_token_info(SCOPE).token == "token-3"
    assert len(inner.calls) == 3


def test_an_expiring_token_whose_refresh_fails_is_an_error() -> None:
    clock = Clock()
    inner = Counting(clock)
    shared = SharedCredential(inner, clock=clock)
    shared.get_token(SCOPE)
    clock.now = START + LIFETIME - 10
    inner.fail = True
    with pytest.raises(RuntimeError, match="identity endpoint down"):
        shared.get_token(SCOPE)


def test_claims_pass_through_uncached_and_drop_the_refused_token() -> None:
    clock = Clock()
    inner = WithInfo(clock)
    shared = SharedCredential(inner, clock=clock)
    assert shared.get_token(SCOPE, enable_cae=True).token == "token-1"
    assert shared.get_token(SCOPE, claims='{"access_token":{}}', enable_cae=True).token == "token-2"
    assert shared.get_token(SCOPE, claims='{"access_token":{}}', enable_cae=True).token == "token-3"
    assert shared.get_token(SCOPE, enable_cae=True).token == "token-4"  # the refused token-1 is gone
    assert shared.get_token(SCOPE, enable_cae=True).token == "token-4"
    assert inner.calls[1] == ((SCOPE,), {"enable_cae": True, "claims": '{"access_token":{}}'})


def test_tenants_scopes_and_cae_are_cached_apart() -> None:
    clock = Clock()
    inner = Counting(clock)
    shared = SharedCredential(inner, clock=clock)
    vault = "https://vault.azure.net/.default"
    asked = [
        shared.get_token(SCOPE).token,
        shared.get_token(vault, tenant_id="t1", enable_cae=True).token,
        shared.get_token(vault, tenant_id="t2", enable_cae=True).token,
        shared.get_token(vault, tenant_id="t1").token,
        shared.get_token(SCOPE).token,
        shared.get_token(vault, tenant_id="t1", enable_cae=True).token,
    ]
    assert asked == ["token-1", "token-2", "token-3", "token-4", "token-1", "token-2"]
    assert inner.calls[1] == ((vault,), {"claims": None, "tenant_id": "t1", "enable_cae": True})


def test_it_is_a_token_credential_that_never_shows_a_token() -> None:
    clock = Clock()
    shared: TokenCredential = SharedCredential(Counting(clock), clock=clock)
    shared.get_token(SCOPE)
    assert "token-1" not in repr(shared)
