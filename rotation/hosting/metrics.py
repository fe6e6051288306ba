"""Where the service's metrics go besides Azure Monitor, and the one gauge that tells an operator how close a
credential is to its end.

- OTLP: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`) is set, the counters are
  also exported over OTLP/HTTP (the exporter reads the standard `OTEL_EXPORTER_OTLP_*` settings itself). The
  endpoint must be HTTPS, or HTTP on loopback (a collector sidecar): a bearer-less plaintext export across a
  network is refused with one line, exit 2.
- Prometheus: `rotation serve --metrics-port N` serves `/metrics` (Prometheus text format, through
  OpenTelemetry's Prometheus reader) and `/healthz` (200 while the scheduler runs, 503 once it stops).
- `rotation.slot.days_until_expiry` (gauge, unit `d`, attributes app and slot): days until the current token
  of each declared slot expires, as the last rotate or revoke run observed it; the earlier of the token's listed
  expiry and its secret version's `expires`. An alert on `< grace` days catches a rotation that stopped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from rotation.domain.values import is_loopback_host
from rotation.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader

    from rotation.engine.jobs import AppRun

OTLP_SETTINGS = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SECONDS_PER_DAY = 86_400


def otlp_endpoint(env: Mapping[str, str]) -> str | None:
    """The configured OTLP endpoint, checked (https, or http on loopback); None when none is set."""
    for name in OTLP_SETTINGS:
        endpoint = env.get(name, "").strip()
        if endpoint:
            _check_endpoint(name, endpoint)
            return endpoint
    return None


def otlp_readers(env: Mapping[str, str]) -> list[MetricReader]:
    """A periodic OTLP/HTTP reader when an endpoint is configured, else none (nothing is imported then)."""
    if otlp_endpoint(env) is None:
        return []
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: PLC0415
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: PLC0415 -- only when set

    return [PeriodicExportingMetricReader(OTLPMetricExporter())]


def _check_endpoint(name: str, endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return
    raise ConfigError(f"{name}: got {endpoint!r}, expected an https:// URL (http:// only on loopback)")


def slot_expiries(run: AppRun, now: datetime) -> Iterator[tuple[str, float]]:
    """(slot, days until its current token expires) for each slot whose current token the run observed."""
    for slot_name, slot in run.state.slots.items():
        current = slot.current
        if current is None:
            continue
        token = run.state.token(current.token_id) if current.token_id else None
        ends = [e for e in (token.expiry if token else None, current.expires_on) if e is not None]
        if ends:
            yield slot_name, round((min(ends) - now).total_seconds() / SECONDS_PER_DAY, 3)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the stdlib's signature
        """Scrapes every 15 s would flood stderr's JSON lines: access lines are not logged."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def metrics_app(healthy: Callable[[], Mapping[str, Any] | None]) -> Callable[..., Any]:
    """WSGI: `/metrics` from prometheus_client's registry (OpenTelemetry's Prometheus reader feeds it),
    `/healthz` as JSON, 200 when `healthy()` returns details, 503 when it returns None."""
    from prometheus_client import make_wsgi_app  # noqa: PLC0415 -- the serve extra

    prometheus = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            result: list[bytes] = prometheus(environ, start_response)
            return result
        if path == "/healthz":
            details = healthy()
            body = json.dumps({"status": "ok" if details is not None else "stopping", **(details or {})}).encode()
            status = "200 OK" if details is not None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]

    return app


def serve_metrics(host: str, port: int, healthy: Callable[[], Mapping[str, Any] | None]) -> WSGIServer:
    """Starts the endpoint on a daemon thread; returns the server (its `server_port` is the bound port)."""
    server = make_server(
        host, port, metrics_app(healthy), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def prometheus_reader() -> MetricReader:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader  # noqa: PLC0415 -- the serve extra

    return PrometheusMetricReader()
