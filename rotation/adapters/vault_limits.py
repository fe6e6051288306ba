"""Key Vault's documented throttling limits, and the client-side limit that keeps this process under them.

Source: "Azure Key Vault service limits", https://learn.microsoft.com/en-us/azure/key-vault/general/service-limits
(section "Secrets, managed storage account keys, and vault transactions"): maximum transactions allowed in
10 seconds, per vault per region: CREATE secret 300, all other transactions 4,000; a subscription-wide
limit for all transaction types of five times the per-vault limit. Older versions of that page gave one
figure, 2,000 for all transactions; the current one splits creates out. Throttled requests answer 429
(https://learn.microsoft.com/en-us/azure/key-vault/general/overview-throttling).

The service's own retries honour a 429's Retry-After, but every 429 costs a round trip and delays the run
of every app sharing the vault. So each vault host gets two budgets here, at `MARGIN` (75%) of the
documented figures: creates (SetSecret: PUT /secrets/{name}) and everything else (GET, PATCH, POST,
DELETE). A create is counted only as a create, as the page lists "all other transactions" beside it.
The budgets are keyed by the vault's host (a vault is one host; the region is the vault's), and
`SHARED` holds them for the whole process: every `SecretClient` built by `build_secret_client`, in every
thread and every Runtime, draws from the same budget of its vault. The subscription-wide limit is not
enforced: the client cannot tell which vaults share a subscription (5x a per-vault budget is reached only
with more than five busy vaults).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from rotation.adapters.ratelimit import SlidingWindowLimiter

__all__ = ["CLIENT", "DOCUMENTED", "MARGIN", "SHARED", "VaultLimits", "VaultRateLimiter", "VaultRatePolicy"]

SERVICE_LIMITS_URL = "https://learn.microsoft.com/en-us/azure/key-vault/general/service-limits"
Kind = Literal["create", "other"]


@dataclass(frozen=True)
class VaultLimits:
    """Transactions per `window` seconds per vault: creates (SetSecret) and every other transaction."""

    create: int
    other: int
    window: float = 10.0

    def scaled(self, margin: float) -> VaultLimits:
        return VaultLimits(math.floor(self.create * margin), math.floor(self.other * margin), self.window)


DOCUMENTED = VaultLimits(create=300, other=4000)
"""Per vault per region, from SERVICE_LIMITS_URL."""
MARGIN = 0.75
"""A quarter left for what this process does not see: other clients of the vault, the SDK's challenge
probe (sent below the limiter, once per client), and the service counting differently than documented."""
CLIENT = DOCUMENTED.scaled(MARGIN)
"""What this process allows itself per vault: 225 creates and 3,000 other transactions per 10 s."""


def operation_kind(method: str, url: str) -> Kind:
    """SetSecret (PUT /secrets/{name}) is a create; every other secrets or vault call is "other"."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return "create" if method.upper() == "PUT" and len(segments) == 2 and segments[0] == "secrets" else "other"


class VaultRateLimiter:
    """The two sliding windows of `limits`, keyed by vault host (host:port, lower case)."""

    def __init__(
        self,
        limits: VaultLimits = CLIENT,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._windows: dict[Kind, SlidingWindowLimiter] = {
            "create": SlidingWindowLimiter(limits.create, limits.window, clock=clock, sleep=sleep),
            "other": SlidingWindowLimiter(limits.other, limits.window, clock=clock, sleep=sleep),
        }

    def acquire(self, method: str, url: str) -> float:
        """Wait for the request's slot in its vault's budget of its kind; returns the wait."""
        host = (urlsplit(url).netloc or "").lower()
        return self._windows[operation_kind(method, url)].acquire(host)


SHARED = VaultRateLimiter()
"""The process-wide budgets: one per vault host, whichever client or thread sends."""


class VaultRatePolicy(SansIOHTTPPolicy[Any, Any]):
    """Acquires from the vault's budget before each attempt. A per-retry policy (it sits after azure-core's
    RetryPolicy): every retry is a transaction the vault counts, so it must wait for a slot too; a per-call
    policy would let a burst of retries through unmetered, just when the vault is struggling."""

    def __init__(self, limiter: VaultRateLimiter = SHARED) -> None:
        super().__init__()
        self._limiter = limiter

    def on_request(self, request: PipelineRequest[Any]) -> None:
        self._limiter.acquire(request.http_request.method, request.http_request.url)
