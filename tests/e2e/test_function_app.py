"""The Azure Function app: indexed through azure.functions (names, bindings, schedules), and each timer's
user code called with a real `TimerRequest` against the sandbox emulators (effects checked there)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emulators.sandbox import RunningWorld
from rotation.errors import JobFailedError
from rotation.hosting import schedules
from rotation.hosting.config import Settings
from tests.e2e.function_support import (
    ROOT,
    SANDBOX_POLICIES,
    bindings,
    bootstrap_northwind,
    call_timer,
    indexed_functions,
    log_events,
    vault_values,
)


def test_the_app_indexes_three_timers_and_the_fanout_queue_trigger() -> None:
    functions = indexed_functions()
    assert set(functions) == {"rotate", "revoke", "audit", "rotate_app"}
    for name, setting in (("rotate", "ROTATE_SCHEDULE"), ("revoke", "REVOKE_SCHEDULE"), ("audit", "AUDIT_SCHEDULE")):
        (binding,) = bindings(functions[name])
        assert binding["type"] == "timerTrigger"
        assert binding["direction"] == "IN"
        assert binding["schedule"] == f"%{setting}%"
        assert binding["runOnStartup"] is False
        assert binding["useMonitor"] is True
    (queue,) = bindings(functions["rotate_app"])
    assert queue["type"] == "queueTrigger"
    assert queue["queueName"] == "%ROTATION_QUEUE%"
    assert queue["connection"] == "AzureWebJobsStorage"


def test_every_schedule_setting_resolves_to_a_valid_ncrontab_with_the_declared_defaults() -> None:
    values = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]
    resolved = schedules.expressions(values)
    assert resolved == {s.job: s.default for s in schedules.SCHEDULES}
    for function in indexed_functions().values():
        for binding in bindings(function):
            if binding["type"] == "timerTrigger":
                setting = binding["schedule"].strip("%")
                assert schedules.validate(values[setting], setting) == values[setting]


def test_importing_the_app_builds_no_sdk_client() -> None:
    probe = (
        "import json, sys, function_app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('azure', 'httpx', 'httpcore', "
        "'aiohttp', 'requests', 'opentelemetry', 'rotation', 'msal', 'structlog', 'pydantic')))))"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(done.stdout)
    assert loaded, done.stderr
    assert all(m == "azure" or m.startswith("azure.functions") for m in loaded), loaded


def test_the_runtime_imports_no_storage_sdk() -> None:
    """A rotate invocation imports the runtime; the storage SDK (~0.4 s) comes only with a storage client."""
    probe = "import json, sys, rotation.hosting.runtime; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(done.stdout)
    assert "azure.keyvault.secrets" in loaded, done.stderr
    assert not [m for m in loaded if m.startswith("azure.storage")]


def test_rotate_then_revoke_timers_act_on_the_sandbox(
    world: RunningWorld, sandbox_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap_northwind(world)
    contoso = world.world.iotcentral.app("contoso-fleet")
    before = set(contoso.tokens)
    with caplog.at_level(logging.DEBUG):
        call_timer("rotate", past_due=True)
    minted = set(contoso.tokens) - before
    assert any(t.startswith("rot-auditor-") for t in minted), minted
    current = world.world.vault.versions("iotc-contoso-fleet-auditor")[-1]
    assert current.tags["stage"] == "current"
    assert current.tags["token-id"] in minted
    northwind = world.world.vault.versions("iotc-northwind-labs-telemetry-reader")
    assert northwind
    assert northwind[-1].tags["stage"] == "current"

    events = log_events(caplog)
    run_ids = {e["run_id"] for e in events}
    assert len(run_ids) == 1  # one invocation, one run id on every line
    assert any(e["event"] == "timer_past_due" and e["level"] == "warning" for e in events)
    summaries = {e["app"]: e for e in events if e["event"] == "app_summary"}
    assert set(summaries) == {"contoso-fleet", "fabrikam-stores", "northwind-labs"}
    assert not any(s["failed"] for s in summaries.values()), summaries
    assert next(e for e in events if e["event"] == "job_summary")["failed_apps"] == []

    with caplog.at_level(logging.DEBUG):
        call_timer("revoke")
    old_reader = world.world.vault.versions("iotc-contoso-fleet-dashboard-reader")[0]
    assert old_reader.tags["stage"] == "revoked"
    assert not old_reader.enabled
    assert not any(t.endswith("-zz99") for t in contoso.tokens)  # the orphan was swept
    assert "ops-admin" in contoso.tokens  # human-made: reported, never revoked
    revoke_events = [e for e in log_events(caplog) if e["job"] == "revoke"]
    assert len({e["run_id"] for e in revoke_events}) == 1
    assert {e["run_id"] for e in revoke_events} != run_ids

    text = caplog.text
    for value in vault_values(world):
        assert value not in text


def test_a_failed_app_fails_the_invocation_after_the_summary_is_logged(
    world: RunningWorld, sandbox_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    contoso = world.world.iotcentral.app("contoso-fleet")
    before = set(contoso.tokens)
    with caplog.at_level(logging.INFO), pytest.raises(JobFailedError) as raised:
        call_timer("rotate")
    assert "1 of 3 apps failed: northwind-labs" in str(raised.value)  # the identity is not a user there yet
    assert set(contoso.tokens) - before  # the other apps rotated all the same
    events = log_events(caplog)
    northwind = next(e for e in events if e["event"] == "app_summary" and e["app"] == "northwind-labs")
    assert northwind["failed"] is True
    assert northwind["level"] == "warning"
    assert northwind["blocked"] or northwind["errors"]
    assert events[-1]["event"] == "job_summary"
    assert events[-1]["failed_apps"] == ["northwind-labs"]


def test_the_audit_timer_writes_a_run_and_fails_on_findings_at_the_threshold(
    world: RunningWorld, sandbox_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), pytest.raises(JobFailedError, match=r"incomplete or not uploaded \(exit 3\)"):
        call_timer("audit")  # northwind-labs cannot be read yet: fail closed
    bootstrap_northwind(world)
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(JobFailedError, match="open findings at or above high"):
        call_timer("audit")
    runs = sorted(p for p in sandbox_env.iterdir() if p.name != "latest" and (p / "audit.ocsf.json").is_file())
    assert len(runs) == 2
    done = next(e for e in log_events(caplog) if e["event"] == "audit_done")
    assert done["exit_code"] == 1
    assert done["run_dir"] == str(runs[-1])
    assert done["open_by_severity"]["high"] >= 1  # the sample world's seeded violations
    assert any(
        r.getMessage().startswith("audit_finding control=") and getattr(r, "run_id", None) == done["run_id"]
        for r in caplog.records
    )  # the audit's own lines carry the run id as a record attribute
    for value in vault_values(world):
        assert value not in caplog.text


def test_an_invalid_setting_fails_the_invocation_with_one_clear_line(
    world: RunningWorld, sandbox_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ROTATION_FANOUT", "sideways")
    with caplog.at_level(logging.INFO), pytest.raises(Exception, match="ROTATION_FANOUT: got 'sideways'"):
        call_timer("revoke")
    failed = next(e for e in log_events(caplog) if e["event"] == "job_failed")
    assert failed["error"] == "ROTATION_FANOUT: got 'sideways', expected one of inline, queue"


def test_local_settings_example_declares_every_setting_the_app_reads() -> None:
    values = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]
    sources = [*(ROOT / "rotation").rglob("*.py"), ROOT / "function_app.py"]
    read = {
        m
        for path in sources
        for m in re.findall(r"[\"'%]((?:ROTATION|ROTATE|REVOKE|AUDIT)_[A-Z_]+)[\"'%]", path.read_text(encoding="utf-8"))
    }
    policies = [*(ROOT / "policies").rglob("*.yaml"), ROOT / "docs" / "policy-example.yaml"]
    read |= {m for path in policies for m in re.findall(r"\$\{([A-Za-z_]+)\}", path.read_text(encoding="utf-8"))}
    read |= {
        "AZURE_CLIENT_ID",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "AzureWebJobsStorage",
        "FUNCTIONS_WORKER_RUNTIME",
        "ROTATION_QUEUE",
        "ROTATION_LEASE_CONTAINER",
    }
    assert read <= set(values), sorted(read - set(values))
    settings = Settings.from_env(values)  # the example itself is valid
    assert settings.fail_on == "high"
    assert values["ROTATION_FANOUT"] == "inline"


def test_host_json_keeps_request_logs_out_and_bounds_retries_and_runtime() -> None:
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    assert host["version"] == "2.0"
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    assert 0 < hours * 3600 + minutes * 60 + seconds <= 3600
    levels = host["logging"]["logLevel"]
    for name in ("azure.core", "azure.identity", "httpx", "httpcore"):
        assert levels[name] == "Warning", name
    assert host["logging"]["applicationInsights"]["samplingSettings"]["isEnabled"] is True
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    queues = host["extensions"]["queues"]
    assert 1 <= queues["maxDequeueCount"] <= 10
    assert queues["messageEncoding"] == "base64"


def test_funcignore_deploys_the_product_and_nothing_else() -> None:
    ignored = {line.strip() for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines() if line}
    assert {"emulators/", "tests/", "bench/", "docs/", "tools/", "infra/", "local.settings.json"} <= ignored
    deployed = {"rotation/", "policies/", "function_app.py", "host.json", "requirements.txt"}
    assert not deployed & ignored


def test_a_relative_policy_path_is_read_from_the_app_root_whatever_the_cwd(
    world: RunningWorld, sandbox_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host picks the worker's cwd: ROTATION_POLICIES=policies must find the app's own `policies/`."""
    app_root = tmp_path / "wwwroot"
    shutil.copytree(SANDBOX_POLICIES, app_root / "policies")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("AzureWebJobsScriptRoot", str(app_root))
    monkeypatch.setenv("ROTATION_POLICIES", "policies")
    contoso = world.world.iotcentral.app("contoso-fleet")
    before = set(contoso.tokens)
    with pytest.raises(JobFailedError, match="1 of 3 apps failed: northwind-labs"):
        call_timer("rotate")  # northwind-labs is not bootstrapped: the three apps were read
    assert set(contoso.tokens) - before
