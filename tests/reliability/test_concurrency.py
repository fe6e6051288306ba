"""Two runners on one app at once: exactly one acts (mints, stages, promotes), the other reports the app
skipped and makes no request to the app or its vault.

tests/integration/test_locks.py already proves it for two threads of the inline mode (blob leases and file
locks, `run_job` with a barrier in `on_app_locked`). Here the missing combinations: two `rotation rotate`
processes (file locks, and blob leases on Azurite through AzureWebJobsStorage), two queue-triggered
`handle_message` calls for the same app in threads, and two queue-worker processes.

The first runner is held at its first request to the emulators, which it makes only once it holds the
app's lock; the second runs to its end meanwhile; then the first is let go. Coordinated by events, never
sleeps. What acted is counted by the emulators' own counters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from werkzeug.wrappers import Request, Response

from emulators.azurite import AzuriteEndpoints
from emulators.core import EmulatorApp, HttpError, SandboxCA
from rotation.engine.jobs import HELD_ELSEWHERE, LEASE
from rotation.hosting.config import Settings
from rotation.hosting.fanout import handle_message
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs
from tests.reliability.runs import REPO
from tests.reliability.tap import WAIT
from tests.reliability.world import APP, FaultWorld, fault_world

pytestmark = pytest.mark.reliability
A = TypeVar("A")
B = TypeVar("B")
WORKER = """
import sys
from rotation.hosting import telemetry
from rotation.hosting.triggers import on_queue_message
telemetry.configure(stream=sys.stdout)  # the Functions host's part: it shows the worker's log records
on_queue_message(sys.argv[1], 1)
"""


class Gate:
    """Holds the first API request any of the emulators receives until `release` is set."""

    def __init__(self, emulators: list[EmulatorApp]) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self._taken = False
        self._lock = threading.Lock()
        self._emulators = emulators
        for emulator in emulators:
            emulator.before_request.append(self)

    def __call__(self, name: str, route: str, request: Request) -> Response | None:
        with self._lock:
            first, self._taken = not self._taken, True
        if first:
            self.held.set()
            if not self.release.wait(WAIT):
                raise HttpError(503, "ServiceUnavailable", "gate: never released")
        return None

    def requests(self) -> int:
        """API requests the emulators answered so far."""
        return sum(e.counters.total() for e in self._emulators)


def _env(world: FaultWorld, storage: str, azurite: AzuriteEndpoints | None, *, queue: bool = False) -> dict[str, str]:
    env = world.env() | {"PYTHONPATH": str(REPO)}
    if storage == "blob":
        assert azurite is not None
        env |= {
            "AzureWebJobsStorage": azurite.connection_string,
            "ROTATION_LEASE_CONTAINER": f"leases-{uuid.uuid4().hex[:12]}",
        }
    if queue:
        env |= {"ROTATION_FANOUT": "queue", "ROTATION_QUEUE": f"rotation-apps-{uuid.uuid4().hex[:8]}"}
    return env


def _mints(world: FaultWorld) -> tuple[int, int]:
    """(tokens created in the app, secret versions written) as the emulators counted them."""
    return (world.sandbox.iotcentral.counters.get("ApiTokens_Create"), world.sandbox.vault.counters.get("SetSecret"))


def _both(world: FaultWorld, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B, int]:
    """Starts `first()` in a thread, waits until it holds the app and is held at its first request, runs
    `second()` to its end, releases the first; returns both results and the requests `second` made."""
    gate = Gate([world.sandbox.identity, world.sandbox.iotcentral, world.sandbox.vault])
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(first)
        assert gate.held.wait(WAIT), "the first runner never reached the emulators"
        before = gate.requests()
        try:
            second_result = second()
        finally:
            gate.release.set()
        made = gate.requests() - before
        return started.result(timeout=WAIT), second_result, made


def _storage(request: pytest.FixtureRequest, storage: str) -> AzuriteEndpoints | None:
    return request.getfixturevalue("azurite") if storage == "blob" else None


def _popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT)
    return process.returncode, out, err


@pytest.mark.parametrize("storage", ["file", pytest.param("blob", marks=pytest.mark.azurite)])
def test_two_cli_processes_on_one_app_one_acts(
    storage: str, request: pytest.FixtureRequest, reliability_ca: SandboxCA, tmp_path: Path
) -> None:
    with fault_world(tmp_path, reliability_ca) as world:
        env = _env(world, storage, _storage(request, storage))
        args = ["-m", "rotation", "rotate", "--json"]
        first, second, made = _both(world, lambda: _finish(_popen(args, env)), lambda: _finish(_popen(args, env)))
        (first_rc, first_out, first_err), (second_rc, second_out, second_err) = first, second
        assert (second_rc, made) == (0, 0), second_err
        [skipped] = json.loads(second_out)["apps"]
        assert skipped["planned"] == []
        assert [(o["action"], o["status"], o["reason"]) for o in skipped["outcomes"]] == [
            (LEASE, "skipped", HELD_ELSEWHERE)
        ]
        assert first_rc == 0, first_err
        [acted] = json.loads(first_out)["apps"]
        assert [(o["action"], o["status"]) for o in acted["outcomes"]] == [("Mint", "done")]
        assert _mints(world) == (1, 2)  # one token; its staging version and its current version


@pytest.mark.azurite
def test_two_queue_messages_for_one_app_in_threads_one_acts(
    azurite: AzuriteEndpoints, reliability_ca: SandboxCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fault_world(tmp_path, reliability_ca) as world:
        env = _env(world, "blob", azurite, queue=True)
        for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
            monkeypatch.setenv(key, env[key])
        settings = Settings.from_env(env)
        specs, _ = load_app_specs(settings, env)
        runtimes = Runtime(settings, specs), Runtime(settings, specs)  # two invocations, on any instances
        body = json.dumps({"job": "rotate", "app": APP, "enqueued_at": "2026-01-01T00:00:00+00:00"})
        try:
            first, second, made = _both(
                world, lambda: handle_message(runtimes[0], body, 1), lambda: handle_message(runtimes[1], body, 1)
            )
        finally:
            for runtime in runtimes:
                runtime.close()
        assert made == 0
        [skipped] = second.apps
        assert skipped.skipped
        assert not second.failed  # not retried by the host: the other invocation does the work
        assert [(o.action, o.status, o.reason) for o in skipped.outcomes] == [(LEASE, "skipped", HELD_ELSEWHERE)]
        assert not first.failed
        assert [(o.action, o.status) for o in first.outcomes()] == [("Mint", "done")]
        assert _mints(world) == (1, 2)


def _summaries(out: str) -> list[dict[str, Any]]:
    lines = []
    for line in out.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "app_summary":
            lines.append(event)
    return lines


@pytest.mark.azurite
def test_two_queue_worker_processes_for_one_app_one_acts(
    azurite: AzuriteEndpoints, reliability_ca: SandboxCA, tmp_path: Path
) -> None:
    with fault_world(tmp_path, reliability_ca) as world:
        env = _env(world, "blob", azurite, queue=True)
        body = json.dumps({"job": "rotate", "app": APP, "enqueued_at": "2026-01-01T00:00:00+00:00"})
        args = ["-c", WORKER, body]
        first, second, made = _both(world, lambda: _finish(_popen(args, env)), lambda: _finish(_popen(args, env)))
        (first_rc, first_out, first_err), (second_rc, second_out, second_err) = first, second
        assert (second_rc, made) == (0, 0), second_err
        [skipped] = _summaries(second_out)
        assert (skipped["app"], skipped["skipped"], skipped["failed"]) == (APP, True, False)
        assert first_rc == 0, first_err
        [acted] = _summaries(first_out)
        assert (acted["skipped"], acted["failed"]) == (False, False)
        assert [(o["action"], o["status"]) for o in acted["outcomes"]] == [("Mint", "done")]
        assert _mints(world) == (1, 2)
