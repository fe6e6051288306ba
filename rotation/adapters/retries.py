"""What every retry says: one log line `retry what=<what> attempt=N status=<status|none> delay=<s|sdk>` and
one `rotation.http.retries` count, for our httpx retries (`rotation.adapters.http.RetryPolicy`) and the
Azure SDK's own (`RetryLogPolicy`, a per-retry policy). `what` names the operation, never a value, header
or body. Kept apart from `rotation.adapters.sdk`, which `rotation.consumer` imports without OpenTelemetry."""

from __future__ import annotations

import logging
import threading
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from opentelemetry import metrics

log = logging.getLogger("rotation.http")
_counter: Any = None
_guard = threading.Lock()


def _retries() -> Any:
    """The counter on the global MeterProvider (a proxy until telemetry configures Azure Monitor)."""
    global _counter  # noqa: PLW0603 -- one instrument per process
    with _guard:
        if _counter is None:
            _counter = metrics.get_meter("rotation").create_counter(
                "rotation.http.retries", unit="{retry}", description="requests retried (429, 5xx, lost connection)"
            )
        return _counter


def record_retry(what: str, attempt: int, status: object, delay: str) -> None:
    """`attempt`: the number of the attempt that failed; `status`: its HTTP status, or "none"."""
    log.info("retry what=%s attempt=%d status=%s delay=%s", what, attempt, status, delay)
    _retries().add(1, {"status": str(status)})


class RetryLogPolicy(SansIOHTTPPolicy[Any, Any]):
    """A per-retry policy: azure-core runs it once per attempt with the same request context, so every
    attempt after the first records the retry of the one before."""

    _ATTEMPT = "rotation_attempt"
    _STATUS = "rotation_last_status"

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def on_request(self, request: PipelineRequest[Any]) -> None:
        attempt = int(request.context.get(self._ATTEMPT, 0)) + 1
        request.context[self._ATTEMPT] = attempt
        if attempt > 1:
            record_retry(self.what, attempt - 1, request.context.get(self._STATUS, "none"), "sdk")
        request.context[self._STATUS] = "none"  # a lost connection leaves no status for the next attempt

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        request.context[self._STATUS] = response.http_response.status_code
