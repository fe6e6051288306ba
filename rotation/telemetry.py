"""Logs and metrics of scheduled runs: structlog JSON lines with a run id on every line, and OpenTelemetry
counters exported to Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

Every stdlib log record made while a run is bound (ours, azure-core's, httpx's) carries `run_id` and `job`
as record attributes (a log record factory reads structlog's contextvars), so Application Insights shows
them as custom dimensions and the JSON handler of `rotation serve` prints them. Our own events are
rendered as one JSON object per line by structlog. Only identifiers, counts and reasons are logged: a
token value never is (`rotation.secret.Secret` hides it, and azure-core/httpx stay at WARNING).

Counters (unit `{token}` or `{finding}`): rotation.tokens.minted, .verified, .promoted, .revoked, .swept,
rotation.operations.failed, rotation.audit.findings (attribute `severity`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import structlog
from opentelemetry import metrics

from rotation.actions import Blocked

if TYPE_CHECKING:
    from rotation.jobs import JobResult

CONTEXT_KEYS = ("run_id", "job", "trigger")
QUIET_LOGGERS = ("azure", "azure.core", "azure.identity", "httpx", "httpcore", "urllib3", "apscheduler")
_lock = threading.Lock()
_configured: set[str] = set()


def _record_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        context = structlog.contextvars.get_contextvars()
        for key in CONTEXT_KEYS:
            if key in context and not hasattr(record, key):
                setattr(record, key, context[key])
        return record

    return factory


class JsonLines(logging.Formatter):
    """One JSON object per line: structlog's events as rendered, other libraries' records wrapped."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{") and message.endswith("}"):  # rendered by structlog already
            with contextlib.suppress(ValueError):
                event = json.loads(message)
                if isinstance(event, dict) and "event" in event:
                    return json.dumps({"logger": record.name, **event}, default=str)
        line: dict[str, Any] = {"timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
                                "level": record.levelname.lower(), "logger": record.name, "event": message}
        line.update({k: getattr(record, k) for k in CONTEXT_KEYS if hasattr(record, k)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(*, stream: TextIO | None = None, level: int = logging.INFO,
              env: Mapping[str, str] | None = None) -> None:
    """Idempotent: the record factory, structlog, an optional JSON handler on `stream`, Azure Monitor."""
    env = os.environ if env is None else env
    with _lock:
        if "logging" not in _configured:
            logging.setLogRecordFactory(_record_factory(logging.getLogRecordFactory()))
            structlog.configure(
                processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                            structlog.processors.TimeStamper(fmt="iso", utc=True),
                            structlog.processors.format_exc_info, structlog.processors.JSONRenderer(default=str)],
                logger_factory=structlog.stdlib.LoggerFactory(),
                wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
                cache_logger_on_first_use=True)
            _configured.add("logging")
        if stream is not None and "handler" not in _configured:
            handler = logging.StreamHandler(stream)
            handler.setFormatter(JsonLines())
            root = logging.getLogger()
            root.addHandler(handler)
            root.setLevel(level)
            _configured.add("handler")
        for noisy in QUIET_LOGGERS:  # request lines and headers never reach a log, whatever the host says
            logging.getLogger(noisy).setLevel(logging.WARNING)
        connection = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
        if connection and "azure_monitor" not in _configured:
            _azure_monitor(connection, in_functions=bool(env.get("FUNCTIONS_WORKER_RUNTIME")))
            _configured.add("azure_monitor")


def _azure_monitor(connection_string: str, *, in_functions: bool) -> None:
    """Counters and traces to Application Insights; logs too outside Functions (in Functions the host
    already forwards the worker's log records, exporting them again would duplicate every line)."""
    from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: PLC0415 -- only when configured

    off = {"enabled": False}
    configure_azure_monitor(connection_string=connection_string, logger_name="rotation", disable_logging=in_functions,
                            instrumentation_options={"django": off, "fastapi": off, "flask": off, "psycopg2": off})


def get_logger(name: str = "rotation") -> Any:
    """A structlog logger whose lines go through the stdlib logger `name` (and so to the Functions host)."""
    return structlog.get_logger(name).bind()


@contextmanager
def run_context(job: str, trigger: str, run_id: str | None = None) -> Iterator[str]:
    """Binds run_id, job and trigger to every log line (and record) made inside; yields the run id."""
    run_id = run_id or uuid.uuid4().hex
    tokens = structlog.contextvars.bind_contextvars(run_id=run_id, job=job, trigger=trigger)
    try:
        yield run_id
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


class Counters:
    """The service's counters on a MeterProvider (the global one unless given, e.g. a test's)."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        provider = meter_provider or metrics.get_meter_provider()
        meter = provider.get_meter("rotation")
        tokens = {"unit": "{token}"}
        self.minted = meter.create_counter("rotation.tokens.minted", description="tokens minted", **tokens)
        self.verified = meter.create_counter("rotation.tokens.verified", description="new tokens verified", **tokens)
        self.promoted = meter.create_counter("rotation.tokens.promoted", description="tokens made current", **tokens)
        self.revoked = meter.create_counter("rotation.tokens.revoked", description="superseded/expired tokens "
                                            "revoked", **tokens)
        self.swept = meter.create_counter("rotation.tokens.swept", description="orphan or unmanaged tokens deleted",
                                          **tokens)
        self.failed = meter.create_counter("rotation.operations.failed", unit="{operation}",
                                           description="actions that failed or were blocked")
        self.findings = meter.create_counter("rotation.audit.findings", unit="{finding}",
                                             description="open audit findings by severity")

    def record_job(self, result: JobResult) -> None:
        for run in result.apps:
            attributes = {"job": result.job, "app": run.app}
            for outcome in run.outcomes:
                if outcome.status == "failed":
                    self.failed.add(1, {**attributes, "action": outcome.action})
                elif outcome.status == "done":
                    self._done(outcome.action, attributes)
            blocked = sum(1 for action in run.planned if isinstance(action, Blocked))
            if blocked:  # an app that could not act: planned Blocked, skipped or failed before acting
                self.failed.add(blocked, {**attributes, "action": "Blocked"})

    def _done(self, action: str, attributes: Mapping[str, str]) -> None:
        if action == "Mint":
            self.minted.add(1, attributes)
        if action in ("Mint", "ResumePending"):
            self.verified.add(1, attributes)
            self.promoted.add(1, attributes)
        elif action == "Revoke":
            self.revoked.add(1, attributes)
        elif action == "DeleteToken":
            self.swept.add(1, attributes)

    def record_audit(self, counts: Mapping[str, int]) -> None:
        for severity, count in counts.items():
            if count:
                self.findings.add(count, {"severity": severity})


_counters: Counters | None = None


def counters() -> Counters:
    """The process's counters on the global MeterProvider (Azure Monitor's once configured)."""
    global _counters  # noqa: PLW0603 -- one set of instruments per process
    with _lock:
        if _counters is None:
            _counters = Counters()
        return _counters
