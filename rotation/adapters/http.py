"""What every httpx-based adapter shares: one send with retries and backoff that honour `Retry-After`, a
client-side rate limit per app (below IoT Central's documented 20 requests/s), the same-origin check,
answers read with a size cap, and the mapping of every httpx failure to the `RotationError` tree.

Retried: 429, 500, 502, 503, 504 and transport failures. Not retried: other statuses (a redirect is never
followed: it is an error), nor an answer that is too large or undecodable. A failure is *ambiguous* when
the request may have been applied (it was sent, but no complete answer came back, or a 500/502/504):
callers for whom that matters (creating a token) read `failures`. Messages never include request headers
or bodies, so a credential cannot leak through an exception.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from rotation.adapters.errors import error_for
from rotation.adapters.origin import Origin
from rotation.adapters.ratelimit import SlidingWindowLimiter
from rotation.adapters.retries import record_retry
from rotation.adapters.tls import certificate_hint
from rotation.adapters.wire import MAX_BODY, is_json
from rotation.domain.values import check_base_url, is_loopback_host
from rotation.errors import (
    ConfigError,
    NoAnswerError,
    RetryableStatusError,
    ServiceError,
    WireError,
)

__all__ = [
    "Answer",
    "RateLimiter",
    "RetryPolicy",
    "check_base_url",
    "check_client",
    "is_loopback_host",
    "send",
    "shared_rate_limiter",
]

AMBIGUOUS_STATUS = frozenset({500, 502, 504})
"""A 429 or 503 means the service refused before acting; after these it may have acted."""
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAX_RETRY_AFTER = 60.0
MAX_MESSAGE = 200


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str | None:
        value: str | None = self.headers.get("Content-Type")
        return value


def is_ambiguous(error: BaseException) -> bool:
    if isinstance(error, NoAnswerError):
        return error.ambiguous
    return isinstance(error, RetryableStatusError) and error.status in AMBIGUOUS_STATUS


def _retry_after(headers: httpx.Headers) -> float | None:
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


@dataclass
class RetryPolicy:
    """Retries of 429, 5xx and lost connections: the server's Retry-After when it sent one, else exponential
    backoff with jitter (so the apps of one run, throttled together, do not all come back at the same
    instant). Each retry is one log line and one `rotation.http.retries` count."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableStatusError) and error.retry_after is not None:
            return error.retry_after
        backoff = wait_exponential_jitter(multiplier=self.base_delay, max=self.max_delay, jitter=self.base_delay)
        return float(backoff(state))


def log_retry(what: str) -> Callable[[RetryCallState], None]:
    """tenacity's before_sleep: `retry what=<what> attempt=N status=<status|no answer> delay=<s>`, the what
    being the operation's name (never a value, a header or a body)."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        status = error.status if isinstance(error, ServiceError) and error.status else "none"
        delay = state.next_action.sleep if state.next_action else 0.0
        record_retry(what, state.attempt_number, status, f"{delay:.3f}")

    return before_sleep


def _retryable(error: BaseException) -> bool:
    return isinstance(error, RetryableStatusError | NoAnswerError)


class RateLimiter(SlidingWindowLimiter):
    """`per_second` requests per one-second sliding window per key (IoT Central: per application base
    URL), shared by the threads of one process; the exact wait for the next free slot, no polling."""

    def __init__(
        self,
        per_second: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(per_second, 1.0, clock=clock, sleep=sleep)


_SHARED: dict[int, RateLimiter] = {}
_SHARED_GUARD = threading.Lock()


def shared_rate_limiter(per_second: int) -> RateLimiter:
    """The process's one limiter at this rate: a Runtime is built per invocation, and overlapping ones (two
    timers, queue messages) calling one app must draw from that app's one budget, not one each."""
    with _SHARED_GUARD:
        return _SHARED.setdefault(per_second, RateLimiter(per_second))


def check_client(http: httpx.Client) -> httpx.Client:
    """A redirect would take a request (and its bearer) to wherever the server says: never follow one."""
    if http.follow_redirects:
        raise ConfigError("HTTP client: got follow_redirects=True, expected False (a redirect is an error)")
    return http


def _error_text(answer: Answer) -> tuple[str | None, str]:
    """(code, message) of an error answer; only a JSON body is quoted, and only briefly."""
    code: str | None = answer.headers.get("x-ms-error-code")
    if not is_json(answer.content_type):
        return code, f"(a {str(answer.content_type or 'untyped').split(';')[0]} body)"
    try:
        body = json.loads(answer.body)
    except ValueError:
        return code, "(an undecodable body)"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raw_code = error.get("code")
        code = code or (raw_code if isinstance(raw_code, str) else None)
        return code, str(error.get("message", ""))[:MAX_MESSAGE]
    return code, str(error)[:MAX_MESSAGE] if isinstance(error, str) else ""


def error_from_answer(answer: Answer, what: str) -> ServiceError:
    code, message = _error_text(answer)
    return error_for(
        f"{what}: got HTTP {answer.status} {code or ''} {message}".strip(),
        status=answer.status,
        code=code,
        retry_after=_retry_after(answer.headers),
        retryable=True,
        not_found=True,
    )


def _read(response: httpx.Response, what: str, cap: int) -> bytes:
    """The body, stopping as soon as it exceeds `cap` (or says it will)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise WireError(f"{what}: got an answer of {declared} bytes, expected at most {cap}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise WireError(f"{what}: got an answer of more than {cap} bytes, expected at most {cap}")
        chunks.append(chunk)
    return b"".join(chunks)


def _exchange(client: httpx.Client, request: httpx.Request, what: str, cap: int) -> Answer:
    try:
        response = client.send(request, stream=True)
        try:
            return Answer(response.status_code, response.headers, _read(response, what, cap))
        finally:
            response.close()
    except httpx.TransportError as exc:
        if hint := certificate_hint(exc, request.url.netloc.decode("ascii", "replace")):
            raise ServiceError(f"{what}: {hint}") from exc  # not retried: a setup problem
        sent = not isinstance(exc, NOT_SENT)
        raise NoAnswerError(f"{what}: got {type(exc).__name__}, expected an answer", ambiguous=sent) from exc
    except httpx.DecodingError as exc:
        raise WireError(f"{what}: got an undecodable body ({type(exc).__name__}), expected JSON") from exc
    except httpx.HTTPError as exc:
        raise ServiceError(f"{what}: got {type(exc).__name__}, expected an answer") from exc


def send(
    client: httpx.Client,
    build: Callable[[], httpx.Request],
    what: str,
    policy: RetryPolicy,
    ok: frozenset[int] = frozenset({200}),
    *,
    origin: Origin,
    cap: int = MAX_BODY,
    failures: list[BaseException] | None = None,
) -> Answer:
    """Send with retries; an answer whose status is in `ok`, else a `ServiceError`. `build` makes each
    attempt's request (a fresh bearer each time); one to another origin than `origin` is never sent.
    Each failed attempt is appended to `failures` when given."""

    def attempt() -> Answer:
        try:
            request = build()
        except httpx.InvalidURL:
            raise ServiceError(f"{what}: got a URL httpx cannot send, expected a valid URL") from None
        origin.check(str(request.url), what)
        try:
            answer = _exchange(client, request, what, cap)
            if answer.status in ok:
                return answer
            raise error_from_answer(answer, what)
        except ServiceError as exc:
            if failures is not None:
                failures.append(exc)
            raise

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=policy.wait,
        retry=retry_if_exception(_retryable),
        sleep=policy.sleep,
        reraise=True,
        before_sleep=log_retry(what),
    )
    try:
        return retrying(attempt)
    except NoAnswerError as exc:
        raise ServiceError(f"{exc}: connection failed after {policy.attempts} attempts") from exc
