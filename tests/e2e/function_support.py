"""Helpers of the Function app's end-to-end tests: the app indexed once, timer calls with the host's
`TimerRequest`, our JSON log events, the sandbox's token values (for leak checks), the bootstrap."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest  # the class the host's converter builds

from emulators.sandbox import RunningWorld
from rotation.domain.secret import Secret
from rotation.engine import admin
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs, select_apps

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_POLICIES = ROOT / "emulators" / "sandbox" / "policies"


@functools.cache
def indexed_functions() -> dict[str, Any]:
    """Indexed once: the FunctionApp records what it indexed and refuses a second pass (as the host does)."""
    import function_app

    return {str(f.get_function_name()): f for f in function_app.app.get_functions()}


def bindings(function: Any) -> list[dict[str, Any]]:
    bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    return bindings


def call_timer(name: str, *, past_due: bool = False) -> None:
    user_code: Callable[[func.TimerRequest], None] = indexed_functions()[name].get_user_function()
    user_code(TimerRequest(past_due=past_due, schedule_status={}, schedule={"AdjustForDST": True}))


def bootstrap_northwind(world: RunningWorld) -> None:
    """The one app of the sample world whose identity is not yet a user (what `rotation bootstrap` does)."""
    settings = Settings.from_env()
    specs, _ = load_app_specs(settings)
    runtime = Runtime(settings, select_apps(specs, ["northwind-labs"]))
    assert world.bootstrap_token_file is not None
    token = Secret(world.bootstrap_token_file.read_text(encoding="utf-8").strip())
    try:
        admin.bootstrap(runtime, runtime.apps[0], token, role="administrator", user_id="rotation-service")
    finally:
        runtime.close()


def log_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    events = []
    for record in caplog.records:
        message = record.getMessage()
        if record.name.startswith("rotation.functions") and message.startswith("{"):
            events.append(json.loads(message))
    return events


def vault_values(world: RunningWorld) -> set[str]:
    return {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
