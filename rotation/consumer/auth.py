"""`IoTCentralAuth`: an `httpx.Auth` that puts the slot's current token in `Authorization`, and on a 401
from IoT Central re-reads it from Key Vault once and retries the request once.

Why only once: a 401 after a rotation means the cached value was revoked early (an incident, a token
deleted by hand); the vault then holds its successor. If the re-read gives the same value, retrying would
only repeat the 401, so the 401 is returned to the caller as is. The token goes only to the origin of the
app it was read for: a request to any other origin is refused before it is sent (`ForeignOriginError`),
and httpx itself drops `Authorization` on a cross-origin redirect. The raw value exists only here, at
the moment it is put on the wire.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator

import httpx

from rotation.adapters.origin import Origin
from rotation.consumer.cache import TokenCache


class IoTCentralAuth(httpx.Auth):
    requires_request_body = True  # the body is read once, so the retry can send it again

    def __init__(self, cache: TokenCache, app_url: str) -> None:
        self._cache = cache
        self._origin = Origin.of(app_url)
        self.retries = 0  # requests sent again after a 401 with a re-read value
        self._count = threading.Lock()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._origin.check(str(request.url), f"IoT Central app {self._origin}")
        token = self._cache.token()
        request.headers["Authorization"] = token.reveal()
        response = yield request
        if response.status_code != 401:
            return
        fresh = self._cache.refresh(refused=token)
        if fresh == token:
            return
        with self._count:
            self.retries += 1
        request.headers["Authorization"] = fresh.reveal()
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Refused: the Key Vault read is blocking. Use an `httpx.Client`, or wrap the cache yourself."""
        raise TypeError("IoTCentralAuth: got an httpx.AsyncClient, expected an httpx.Client (Key Vault reads block)")
        yield request  # pragma: no cover - makes this an async generator
