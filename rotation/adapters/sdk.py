"""What every Azure SDK client of the service (Key Vault, report and lease blobs, fan-out queues) is built
with: no redirects followed, explicit connect and read timeouts, the same-origin check, and logging that
cannot show a secret.

Redirects: azure-core's `RedirectPolicy` follows a 307/308 for any method, body included (a SetSecret
would re-send the new token's value to the other host); `permit_redirects=False` hands the 3xx back, and
the client raises it as an `HttpResponseError`.

Logging: azure-core's `NetworkTraceLoggingPolicy` (what `logging_enable=True` turns on) logs every
request header (the bearer) and every body (a SetSecret's value, a GetSecret's answer). Key Vault clients
therefore get `RedactedTraceLoggingPolicy` instead: method, URL without its query, status, nothing else.
The storage clients' own `StorageLoggingPolicy` already redacts credentials and hides bodies.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy

log = logging.getLogger("rotation.http")

DEFAULT_TIMEOUT = 15.0
MAX_CONNECT_TIMEOUT = 5.0


def timeouts(read_timeout: float) -> tuple[float, float]:
    """(connect, read) timeouts in seconds: connecting never waits longer than 5 s, nor than a read."""
    if not read_timeout > 0:
        raise ValueError(f"timeout: got {read_timeout!r}, expected a number of seconds above 0")
    return min(MAX_CONNECT_TIMEOUT, read_timeout), read_timeout


def client_options(read_timeout: float) -> dict[str, Any]:
    """The keyword arguments every Azure SDK client gets (besides its retry, logging and same-origin policies)."""
    connect, read = timeouts(read_timeout)
    return {"permit_redirects": False, "connection_timeout": connect, "read_timeout": read}


def _path_only(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class RedactedTraceLoggingPolicy(SansIOHTTPPolicy[Any, Any]):
    """Debug lines with what a request was and how it ended: never headers, bodies or query strings."""

    def __init__(self, logging_enable: bool = False) -> None:
        super().__init__()
        self.enabled = logging_enable

    def on_request(self, request: PipelineRequest[Any]) -> None:
        if self.enabled:
            log.debug("request %s %s", request.http_request.method, _path_only(request.http_request.url))

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        if self.enabled:
            log.debug(
                "response %s to %s %s",
                response.http_response.status_code,
                request.http_request.method,
                _path_only(request.http_request.url),
            )
