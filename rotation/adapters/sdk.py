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

Concurrency: `FirstRequestGate` sends a client's first request alone (Key Vault's challenge: one 401 per
vault, not one per thread), and `pooled_transport` keeps as many connections as the job has threads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy, SansIOHTTPPolicy
from azure.core.pipeline.transport import RequestsTransport
from urllib3.util.retry import Retry

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


class FirstRequestGate(HTTPPolicy[Any, Any]):
    """Lets a client's first request through alone and holds the others until it has an answer.

    Key Vault's `ChallengeAuthPolicy` sends a request without a bearer until it has the vault's challenge
    (the 401's WWW-Authenticate, cached process-wide per vault host once answered): N threads starting
    together on a new client would each get a 401 and each ask the credential for a token. Placed before
    the auth policy (a per-call policy), the gate makes that one 401; the held requests then go with the
    cached challenge. A first request that fails without an answer (connection error, credential
    failure) leaves the gate closed: the next request goes alone in its turn."""

    def __init__(self) -> None:
        super().__init__()
        self._state = threading.Condition()
        self._probing = False
        self._open = False

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        if self._open:
            return self.next.send(request)
        with self._state:
            while self._probing:
                self._state.wait()
            first = not self._open
            self._probing = first
        if not first:
            return self.next.send(request)
        answered = False
        try:
            response = self.next.send(request)
            answered = True
            return response
        finally:
            with self._state:
                self._probing = False
                self._open = answered
                self._state.notify_all()


def pooled_transport(read_timeout: float, *, connections: int, verify: str | bool = True) -> RequestsTransport:
    """azure-core's requests transport with a pool of `connections` (requests keeps 10 per host: with more
    threads on one client, every request beyond 10 opens a connection, TLS handshake included, and throws
    it away after, logging urllib3's "Connection pool is full").

    `trust_env` is off, as for the httpx client: requests would otherwise read proxy variables, a
    REQUESTS_CA_BUNDLE that replaces nothing we check, and ~/.netrc, whose password it sends as Basic auth
    on any request without an Authorization header (the challenge request has none). Retries stay with
    azure-core's RetryPolicy (urllib3's are off, as azure-core's own adapter has them)."""
    connect, read = timeouts(read_timeout)
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4,
        pool_maxsize=max(connections, 10),
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        use_env_settings=False,
        connection_timeout=connect,
        read_timeout=read,
        connection_verify=verify,
    )
