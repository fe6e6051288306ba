"""What every httpx-based adapter shares: retries with backoff that honour `Retry-After`, a client-side
rate limit per app (below IoT Central's documented 20 requests/s), error mapping, and URL checks.

Retried: 429, 5xx and transport errors (a dropped connection). Not retried: other 4xx. Messages never
include request headers, so a credential cannot leak through an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from rotation.errors import AuthError, NotFoundError, ServiceError
from rotation.values import check_base_url, is_loopback_host

__all__ = ["RateLimiter", "RetryPolicy", "check_base_url", "is_loopback_host", "send"]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


class RetryableStatusError(ServiceError):
    def __init__(self, message: str, *, status: int, code: str | None, retry_after: float | None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableStatusError) and error.retry_after is not None:
            return error.retry_after
        return float(min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1)))


def _retryable(error: BaseException) -> bool:
    return isinstance(error, RetryableStatusError | httpx.TransportError)


class RateLimiter:
    """A moving window of `per_second` requests per key, shared by the threads of one process."""

    def __init__(self, per_second: int) -> None:
        self._item = RateLimitItemPerSecond(per_second)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def acquire(self, key: str, sleep: Callable[[float], None] = time.sleep) -> None:
        while not self._limiter.hit(self._item, key):
            stats = self._limiter.get_window_stats(self._item, key)
            sleep(max(0.01, stats.reset_time - time.time()))


def error_from_response(response: httpx.Response, what: str) -> ServiceError:
    code: str | None = response.headers.get("x-ms-error-code")
    message = ""
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = code or error.get("code")
            message = str(error.get("message", ""))
        elif isinstance(error, str):
            message = error
    except ValueError:
        message = response.text[:200]
    text = f"{what}: got HTTP {response.status_code} {code or ''} {message}".strip()
    if response.status_code in RETRYABLE_STATUS:
        return RetryableStatusError(text, status=response.status_code, code=code,
                                    retry_after=_retry_after(response))
    if response.status_code in (401, 403):
        return AuthError(text, status=response.status_code, code=code)
    if response.status_code == 404:
        return NotFoundError(text, status=404, code=code)
    return ServiceError(text, status=response.status_code, code=code)


def send(client: httpx.Client, request: Callable[[], httpx.Response], what: str, policy: RetryPolicy,
         ok: frozenset[int] = frozenset({200})) -> httpx.Response:
    """Send with retries; returns a response whose status is in `ok`, else raises a `ServiceError`."""

    def attempt() -> httpx.Response:
        try:
            response = request()
        except httpx.TransportError as exc:
            raise httpx.TransportError(f"{what}: {type(exc).__name__}") from None
        if response.status_code in ok:
            return response
        raise error_from_response(response, what)

    retrying = Retrying(stop=stop_after_attempt(policy.attempts), wait=policy.wait,
                        retry=retry_if_exception(_retryable), sleep=policy.sleep, reraise=True)
    try:
        return retrying(attempt)
    except httpx.TransportError as exc:
        raise ServiceError(f"{what}: connection failed after {policy.attempts} attempts ({exc})") from None
