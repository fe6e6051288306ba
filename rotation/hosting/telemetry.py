"""Logs and metrics of scheduled runs: structlog JSON lines with a run id on every line, and OpenTelemetry
counters exported to Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

Every stdlib log record made while a run is bound (ours, azure-core's, httpx's) carries `run_id` and `job`
as record attributes (a log record factory reads structlog's contextvars), so Application Insights shows
them as custom dimensions and the JSON handler of `rotation serve` prints them. Our own events are
rendered as one JSON object per line by structlog. Only identifiers, counts and reasons are logged: a
token value never is (`rotation.domain.secret.Secret` hides it, and the HTTP libraries stay at WARNING).

`ROTATION_LOG_LEVEL` (or `rotation --debug`) raises the level; at DEBUG every library logs too (azure-core,
azure-identity, msal, httpx, httpcore, urllib3), and azure-core's network trace (`logging_enable=True`)
prints every request header and body unredacted. So the record factory also scrubs every record before
any handler sees it (`redact`): header values of Authorization, Authentication (iottly) and
X-IDENTITY-HEADER, bearer credentials, JWTs, IoT Central API tokens, `sig=` parameters, and the
secret-bearing JSON fields of bodies (`value`, `token`, `access_token`, ...). Exception texts too.

Counters (unit `{token}` or `{finding}`): rotation.tokens.minted, .verified, .promoted, .revoked, .swept,
rotation.operations.failed, rotation.audit.findings (attribute `severity`), rotation.http.retries
(`rotation.adapters.retries`); the gauge rotation.slot.days_until_expiry. Exporters: Azure Monitor, OTLP,
Prometheus (`rotation.hosting.metrics`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import structlog
from opentelemetry import metrics

from rotation.engine.actions import Blocked
from rotation.hosting.config import log_level
from rotation.hosting.metrics import otlp_readers, slot_expiries

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader

    from rotation.engine.jobs import JobResult

CONTEXT_KEYS = ("run_id", "job", "trigger")
QUIET_LOGGERS = ("azure", "azure.core", "azure.identity", "msal", "httpx", "httpcore", "urllib3", "apscheduler")
_lock = threading.Lock()
_configured: set[str] = set()

_VALUE_END = r"[^\s'\"<>,;\\]*"
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a JWT (an Azure AD access token): base64url('{"...') . base64url('{"...') . signature
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "<redacted jwt>"),
    # an IoT Central API token, also percent-encoded: SharedAccessSignature sr=..&sig=..&skn=..&se=..
    (
        re.compile(
            rf"SharedAccessSignature(?:\s|%20|\+)+{_VALUE_END}?sig(?:=|%3D)[A-Za-z0-9%+/_-]{{8,}}{_VALUE_END}",
            re.IGNORECASE,
        ),
        "<redacted api token>",
    ),
    (re.compile(r"\b(sig(?:=|%3D))[A-Za-z0-9%+/_-]{8,}", re.IGNORECASE), r"\1<redacted>"),
    # header values (azure-core's network trace prints them as 'Name': 'value')
    (
        re.compile(
            r"((?:authorization|authentication|x-identity-header|x-ms-authorization-auxiliary|proxy-authorization"
            r"|cookie|set-cookie)['\"]?\s*:\s*['\"]?)[^'\"\r\n]+",
            re.IGNORECASE,
        ),
        r"\1<redacted>",
    ),
    # a bearer credential (RFC 6750 b64token), not a challenge's `Bearer authorization="..."` parameter
    (
        re.compile(r"\b(bearer(?:\s|%20)+)[A-Za-z0-9._~+/-]{8,}=*(?![\"A-Za-z0-9._~+/=-])", re.IGNORECASE),
        r"\1<redacted>",
    ),
    # secret-bearing JSON fields of HTTP bodies: Key Vault's value, IoT Central's token, token responses
    (
        re.compile(
            r"""(["'](?:value|token|access_token|refresh_token|id_token|client_secret|password)["']\s*:\s*)"""
            r"""(["'])(?:(?!\2)[^\\]|\\.)*\2"""
        ),
        r"\1\2<redacted>\2",
    ),
)


def redact(text: str) -> str:
    """`text` without credentials: what a log line, an error line or a traceback may show. Identifiers
    (token ids, secret names, URLs without signatures) stay, they are what an operator needs."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _scrub(record: logging.LogRecord) -> None:
    """Renders the record's message once, redacted, so no handler (ours, the Functions host's, Azure
    Monitor's, a test's) can format the raw arguments again; the same for its exception and stack."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):  # a bad format string must not break the caller
        message = f"{record.msg} {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _record_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        context = structlog.contextvars.get_contextvars()
        for key in CONTEXT_KEYS:
            if key in context and not hasattr(record, key):
                setattr(record, key, context[key])
        _scrub(record)
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
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message,
        }
        line.update({k: getattr(record, k) for k in CONTEXT_KEYS if hasattr(record, k)})
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(
    *,
    stream: TextIO | None = None,
    level: int | None = None,
    env: Mapping[str, str] | None = None,
    quiet_level: int = logging.WARNING,
    azure_monitor: bool = True,
    metric_readers: Sequence[MetricReader] = (),
    in_functions: bool = False,
) -> None:
    """Idempotent: the redacting record factory, structlog, an optional JSON handler on `stream`, the
    levels, Azure Monitor (unless `azure_monitor=False`: the CLI never exports). `in_functions` is said by
    the caller (function_app.py through the triggers), never guessed from FUNCTIONS_WORKER_RUNTIME: Flex
    Consumption does not let it be set, and a wrong guess exports every log line twice.

    `level` defaults to ROTATION_LOG_LEVEL of `env`; it sets the root level when there is a `stream`
    (INFO when neither says). At DEBUG the `rotation` loggers and every library logger are at DEBUG;
    otherwise the libraries stay at `quiet_level`, whatever the host says, so request lines and headers
    never reach a log, and ours are left to the host: WARNING never silences the INFO lines the alerts
    read in the Function app (`audit_finding`, `app_summary`)."""
    env = os.environ if env is None else env
    named = log_level(env)
    chosen = level if level is not None else (logging.getLevelNamesMapping()[named] if named else None)
    with _lock:
        if "logging" not in _configured:
            logging.setLogRecordFactory(_record_factory(logging.getLogRecordFactory()))
            structlog.configure(
                processors=[
                    structlog.contextvars.merge_contextvars,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(default=str),
                ],
                logger_factory=structlog.stdlib.LoggerFactory(),
                wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
                cache_logger_on_first_use=True,
            )
            _configured.add("logging")
        if stream is not None:
            if "handler" not in _configured:
                handler = logging.StreamHandler(stream)
                handler.setFormatter(JsonLines())
                logging.getLogger().addHandler(handler)
                _configured.add("handler")
            logging.getLogger().setLevel(logging.INFO if chosen is None else chosen)
        for noisy in QUIET_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.DEBUG if chosen == logging.DEBUG else quiet_level)
        logging.getLogger("rotation").setLevel(logging.DEBUG if chosen == logging.DEBUG else logging.NOTSET)
        if azure_monitor and "azure_monitor" not in _configured:
            _exporters(env, metric_readers, in_functions=in_functions)
            _configured.add("azure_monitor")


def _exporters(env: Mapping[str, str], extra: Sequence[MetricReader], *, in_functions: bool) -> None:
    """Azure Monitor when its connection string is set, OTLP when its endpoint is (`rotation.hosting.metrics`),
    and `extra` readers (serve's Prometheus): one MeterProvider feeds them all."""
    readers = [*otlp_readers(env), *extra]
    connection = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if connection:
        _azure_monitor(connection, in_functions=in_functions, readers=readers)
    elif readers:
        from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415 -- only when something exports

        metrics.set_meter_provider(MeterProvider(metric_readers=readers))


def _azure_monitor(connection_string: str, *, in_functions: bool, readers: Sequence[MetricReader] = ()) -> None:
    """Counters and traces to Application Insights; logs too outside Functions (in Functions the host
    already forwards the worker's log records, exporting them again would duplicate every line)."""
    from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: PLC0415 -- only when configured

    off = {"enabled": False}
    if in_functions:  # the distro (1.8) ignores disable_logging; OTEL_LOGS_EXPORTER=none is its documented switch
        os.environ["OTEL_LOGS_EXPORTER"] = "none"
    configure_azure_monitor(
        connection_string=connection_string,
        logger_name="rotation",
        disable_logging=in_functions,
        metric_readers=list(readers),
        instrumentation_options={"django": off, "fastapi": off, "flask": off, "psycopg2": off},
    )


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
        self.revoked = meter.create_counter(
            "rotation.tokens.revoked", description="superseded/expired tokens revoked", **tokens
        )
        self.swept = meter.create_counter(
            "rotation.tokens.swept", description="orphan or unmanaged tokens deleted", **tokens
        )
        self.failed = meter.create_counter(
            "rotation.operations.failed", unit="{operation}", description="actions that failed or were blocked"
        )
        self.findings = meter.create_counter(
            "rotation.audit.findings", unit="{finding}", description="open audit findings by severity"
        )
        self.days_until_expiry = meter.create_gauge(
            "rotation.slot.days_until_expiry", unit="d", description="days until the slot's current token expires"
        )

    def record_job(self, result: JobResult, now: datetime | None = None) -> None:
        at = now or datetime.now(UTC)
        for run in result.apps:
            attributes = {"job": result.job, "app": run.app}
            for slot, days in slot_expiries(run, at):
                self.days_until_expiry.set(days, {"app": run.app, "slot": slot})
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
