"""Telemetry: counters read back through an in-memory OpenTelemetry reader (no network), and JSON log
lines that all carry the run id, ours and other libraries' alike."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from emulators.sandbox import RunningWorld
from rotation.engine.actions import Blocked
from rotation.engine.jobs import run_job
from rotation.hosting import telemetry
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

ROOT = Path(__file__).resolve().parents[2]


def _sums(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
    data = reader.get_metrics_data()
    assert data is not None
    sums: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint)  # counters only
                    attributes = tuple(sorted((str(k), str(v)) for k, v in (point.attributes or {}).items()))
                    sums[(metric.name, attributes)] = int(point.value)
    return sums


def _total(sums: dict[tuple[str, tuple[tuple[str, str], ...]], int], name: str) -> int:
    return sum(value for (metric, _), value in sums.items() if metric == name)


def test_counters_match_what_the_jobs_did(world: RunningWorld) -> None:
    reader = InMemoryMetricReader()
    counters = telemetry.Counters(MeterProvider(metric_readers=[reader]))
    runtime = Runtime(Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)}), sample_specs(world))
    rotated = run_job(runtime, "rotate")
    revoked = run_job(runtime, "revoke")
    runtime.close()
    counters.record_job(rotated)
    counters.record_job(revoked)
    counters.record_audit({"critical": 2, "high": 3, "low": 0})
    sums = _sums(reader)

    mints = [o for o in rotated.outcomes() if o.action == "Mint" and o.status == "done"]
    assert len(mints) == 5  # the sample world's due, drifted, deleted and failing (IOTC-012) slots
    assert _total(sums, "rotation.tokens.minted") == len(mints)
    assert _total(sums, "rotation.tokens.verified") == len(mints)
    assert _total(sums, "rotation.tokens.promoted") == len(mints)
    revokes = [o for o in revoked.outcomes() if o.action == "Revoke" and o.status == "done"]
    sweeps = [o for o in revoked.outcomes() if o.action == "DeleteToken" and o.status == "done"]
    assert revokes
    assert sweeps
    assert _total(sums, "rotation.tokens.revoked") == len(revokes)
    assert _total(sums, "rotation.tokens.swept") == len(sweeps)
    blocked = sum(
        1 for result in (rotated, revoked) for run in result.apps for a in run.planned if isinstance(a, Blocked)
    )
    failed = sum(1 for result in (rotated, revoked) for o in result.outcomes() if o.status == "failed")
    assert blocked  # northwind-labs: the identity is not a user there yet
    assert _total(sums, "rotation.operations.failed") == blocked + failed
    assert (
        sums[("rotation.operations.failed", (("action", "Blocked"), ("app", "northwind-labs"), ("job", "rotate")))] >= 1
    )
    assert sums[("rotation.tokens.minted", (("app", "contoso-fleet"), ("job", "rotate")))] == 2  # auditor, maintenance
    assert sums[("rotation.audit.findings", (("severity", "critical"),))] == 2
    assert sums[("rotation.audit.findings", (("severity", "high"),))] == 3
    assert not any(name == "rotation.audit.findings" and ("severity", "low") in attrs for name, attrs in sums)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    telemetry.configure(env={})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(telemetry.JsonLines())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_log_line_is_json_with_the_run_id(json_lines: io.StringIO) -> None:
    with telemetry.run_context("rotate", "timer") as run_id:
        telemetry.get_logger("rotation.functions").info("job_started", apps=3)
        logging.getLogger("rotation.audit").info("audit_summary run=%s", "r1")
        logging.getLogger("azure.core.pipeline").warning("retrying")
    logging.getLogger("rotation").info("outside any run")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["job_started", "audit_summary run=r1", "retrying", "outside any run"]
    assert [line.get("run_id") for line in lines] == [run_id, run_id, run_id, None]
    assert lines[0]["apps"] == 3
    assert lines[0]["logger"] == "rotation.functions"
    assert lines[2]["logger"] == "azure.core.pipeline"
    assert all(line["job"] == "rotate" and line["trigger"] == "timer" for line in lines[:3])


def test_http_and_azure_loggers_stay_at_warning_after_configure() -> None:
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    telemetry.configure(env={})
    for name in ("azure.core", "azure.identity", "httpx", "httpcore"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


def test_azure_monitor_is_configured_only_with_a_connection_string(tmp_path: Path) -> None:
    """In a fresh process: the exporter is set up (loopback ingestion endpoint, nothing listens) and the
    counters land on the SDK's MeterProvider; without the setting the API's no-op provider stays."""
    probe = (
        "import sys; from opentelemetry import metrics; from rotation.hosting import telemetry; "
        "env = {'FUNCTIONS_WORKER_RUNTIME': 'python'}; "
        "env.update({'APPLICATIONINSIGHTS_CONNECTION_STRING': sys.argv[1]} if sys.argv[1] else {}); "
        "telemetry.configure(env=env); telemetry.counters().minted.add(1, {'app': 'a'}); "
        "print(type(metrics.get_meter_provider()).__module__, 'azure.monitor.opentelemetry' in sys.modules)"
    )
    connection = (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/;"
        "LiveEndpoint=https://127.0.0.1:9/"
    )
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "HOME": str(tmp_path)}
    results = [
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", probe, value],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env=env,
        ).stdout.split()
        for value in (connection, "")
    ]
    assert results[0] == ["opentelemetry.sdk.metrics._internal", "True"]
    assert results[1][1] == "False"
    assert not results[1][0].startswith("opentelemetry.sdk")


def test_days_until_expiry_is_a_gauge_per_slot_from_what_the_run_observed(world: RunningWorld) -> None:
    reader = InMemoryMetricReader()
    counters = telemetry.Counters(MeterProvider(metric_readers=[reader]))
    runtime = Runtime(Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)}), sample_specs(world))
    revoked = run_job(runtime, "revoke")
    runtime.close()
    now = world.world.clock.now()
    counters.record_job(revoked, now=now)
    gauges = {
        attrs: value for (name, attrs), value in _gauges(reader).items() if name == "rotation.slot.days_until_expiry"
    }
    contoso = next(run for run in revoked.apps if run.app == "contoso-fleet")
    expected = {}
    for slot, state in contoso.state.slots.items():
        current = state.current
        token = contoso.state.token(current.token_id) if current and current.token_id else None
        if token is not None:
            ends = [e for e in (token.expiry, current.expires_on if current else None) if e is not None]
            expected[(("app", "contoso-fleet"), ("slot", slot))] = round((min(ends) - now).total_seconds() / 86400, 3)
    assert expected
    assert {k: v for k, v in gauges.items() if ("app", "contoso-fleet") in k} == expected


def _gauges(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        (metric.name, tuple(sorted((str(k), str(v)) for k, v in (point.attributes or {}).items()))): float(point.value)  # type: ignore[union-attr]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }


LOG_EXPORT_PROBE = """
import logging, sys
from azure.functions.timer import TimerRequest
import function_app
from rotation.hosting.triggers import on_timer
try:
    if sys.argv[1] == "functions":
        functions = {str(f.get_function_name()): f for f in function_app.app.get_functions()}
        functions["audit"].get_user_function()(TimerRequest(past_due=False, schedule_status={}, schedule={}))
    else:
        on_timer("audit", past_due=False, trigger="serve")
except Exception:
    pass
print(sum(type(h).__module__.startswith("opentelemetry") for h in logging.getLogger("rotation").handlers))
"""


def test_the_function_app_exports_no_log_records_itself_without_functions_worker_runtime(tmp_path: Path) -> None:
    """Flex Consumption has no FUNCTIONS_WORKER_RUNTIME: function_app.py says it is the Functions host, so the
    worker adds no log exporter (the host forwards the records); `rotation serve` does export them."""
    connection = (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/;"
        "LiveEndpoint=https://127.0.0.1:9/"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "TMPDIR": str(tmp_path),
        "HOME": str(tmp_path),
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection,
        "ROTATION_POLICIES": str(tmp_path / "absent"),
        "ROTATION_REPORTS_DIR": str(tmp_path / "reports"),
        "ROTATION_STATE_DIR": str(tmp_path / "state"),
    }
    handlers = {
        host: subprocess.run(  # noqa: S603
            [sys.executable, "-c", LOG_EXPORT_PROBE, host],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env=env,
            cwd=ROOT,
        ).stdout.split()
        for host in ("functions", "serve")
    }
    assert handlers == {"functions": ["0"], "serve": ["1"]}
