"""One access token per scope for the whole process, however many threads ask at once.

The jobs call the credential from many threads (`max_concurrency` apps x their reads), and every client
the runtime builds (IoT Central, each vault's `SecretClient`, the report and lease blobs) asks it for a
token. azure-identity's credentials cache tokens, but a cache miss is not serialized: N threads missing
together make N requests to the identity endpoint (a thundering herd that IMDS throttles, at a cold
start when every cache is empty). `SharedCredential` makes the threads that want the same token wait for
the one that fetches it, then hands them all the cached token until shortly before it expires.

A token is cached per (scopes, tenant, CAE): Key Vault's challenge policy asks for the vault's tenant,
IoT Central's client for none, and the two are different tokens. A request with `claims` (a CAE claims
challenge: the service refused the cached token) is passed to the credential uncached, and drops the
cached token of its key so that the next caller gets a fresh one too. Nothing here logs a token (an
`AccessToken`'s repr shows it: none is ever formatted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

REFRESH_BEFORE = 300
"""Seconds before `expires_on` a cached token is refreshed (azure-core's bearer policy uses the same)."""

Key = tuple[tuple[str, ...], str | None, bool]


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    token: AccessTokenInfo | None = None


class SharedCredential:
    """An azure-core `TokenCredential` (and `SupportsTokenInfo`) over another credential: one request per
    token at a time, the token reused until `REFRESH_BEFORE` seconds before it expires (or its
    `refresh_on`, when the credential says so)."""

    def __init__(self, inner: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.inner = inner
        self._clock = clock
        self._slots: dict[Key, _Slot] = {}
        self._guard = threading.Lock()

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        options: TokenRequestOptions = {"enable_cae": enable_cae}
        if tenant_id:
            options["tenant_id"] = tenant_id
        if claims:
            options["claims"] = claims
        info = self._token(scopes, options, kwargs)
        return AccessToken(info.token, info.expires_on)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        return self._token(scopes, dict(options or {}), {})  # type: ignore[arg-type]

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def _token(self, scopes: tuple[str, ...], options: TokenRequestOptions, extra: dict[str, Any]) -> AccessTokenInfo:
        key: Key = (scopes, options.get("tenant_id") or None, bool(options.get("enable_cae")))
        slot = self._slot(key)
        if options.get("claims"):
            slot.token = None  # the service refused the cached token: nobody gets it again
            return self._fetch(scopes, options, extra)
        with slot.lock:
            now = self._clock()
            cached = slot.token
            if cached is not None and not self._stale(cached, now):
                return cached
            try:
                slot.token = self._fetch(scopes, options, extra)
            except Exception:
                if cached is not None and cached.expires_on - now > REFRESH_BEFORE:
                    return cached  # only its refresh_on had passed: still good, try again next time
                raise
            return slot.token

    def _slot(self, key: Key) -> _Slot:
        with self._guard:
            return self._slots.setdefault(key, _Slot())

    @staticmethod
    def _stale(token: AccessTokenInfo, now: float) -> bool:
        if token.refresh_on is not None and token.refresh_on <= now:
            return True
        return token.expires_on - now <= REFRESH_BEFORE

    def _fetch(self, scopes: tuple[str, ...], options: TokenRequestOptions, extra: dict[str, Any]) -> AccessTokenInfo:
        """The inner credential's token: its `get_token_info` when it has one (it carries `refresh_on`)."""
        if hasattr(self.inner, "get_token_info") and not extra:
            info = self.inner.get_token_info(*scopes, options=options)
            return AccessTokenInfo(
                info.token, int(info.expires_on), token_type=info.token_type, refresh_on=info.refresh_on
            )
        token = self.inner.get_token(
            *scopes,
            claims=options.get("claims"),
            tenant_id=options.get("tenant_id"),
            enable_cae=bool(options.get("enable_cae")),
            **extra,
        )
        return AccessTokenInfo(token.token, int(token.expires_on))
