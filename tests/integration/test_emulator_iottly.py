"""The iottly emulator over HTTPS: the ping with an `Authentication: bearer` key, the 401s the docs
promise, the UI stand-in (key values shown once), the admin routes, faults and counters."""

from __future__ import annotations

import os
import selectors
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from emulators.conformance import SpecConformance
from emulators.core import Clock, Fault, SandboxCA
from emulators.iottly import IottlyEmulator, IottlyKey, UnknownKeyError, UnknownProjectError
from tests.conftest import attach_conformance

REPO = Path(__file__).resolve().parents[2]
FROZEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def iottly(conformance: dict[str, SpecConformance]) -> IottlyEmulator:
    emulator = IottlyEmulator(clock=Clock(frozen_at=FROZEN))
    attach_conformance(emulator, conformance)
    emulator.add_project("greenhouse")
    return emulator


@pytest.fixture
def client(iottly: IottlyEmulator, sandbox_ca: SandboxCA) -> Iterator[httpx.Client]:
    with (
        iottly.serve(sandbox_ca) as base_url,
        httpx.Client(base_url=base_url, verify=sandbox_ca.client_context(), timeout=5) as http,
    ):
        yield http


def ping(client: httpx.Client, header_value: str | None, header: str = "Authentication") -> httpx.Response:
    headers = {header: header_value} if header_value is not None else {}
    return client.get("/v1.0/project/ping", headers=headers)


def test_ping_with_a_valid_key_pongs(iottly: IottlyEmulator, client: httpx.Client) -> None:
    key = iottly.add_key("greenhouse", "rotation: ingest")
    response = ping(client, f"bearer {key.value}")
    assert response.status_code == 200
    assert response.json() == {"status": "pong"}
    assert ping(client, f"Bearer {key.value}").status_code == 200  # the scheme is case-insensitive


def test_a_removed_key_gets_401_and_other_keys_keep_working(iottly: IottlyEmulator, client: httpx.Client) -> None:
    iottly.add_project("orchard")
    removed = iottly.add_key("greenhouse", "old")
    kept = iottly.add_key("greenhouse", "new")
    other = iottly.add_key("orchard", "reporting")
    iottly.remove_key("greenhouse", removed.id)
    response = ping(client, f"bearer {removed.value}")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid API key"}
    assert ping(client, f"bearer {kept.value}").status_code == 200
    assert ping(client, f"bearer {other.value}").status_code == 200
    assert [k.id for k in iottly.keys("greenhouse")] == [kept.id]


def test_the_authorization_header_is_not_the_one_iottly_reads(iottly: IottlyEmulator, client: httpx.Client) -> None:
    key = iottly.add_key("greenhouse", "rotation: ingest")
    response = ping(client, f"bearer {key.value}", header="Authorization")
    assert response.status_code == 401
    assert "Authentication header, not Authorization" in response.json()["error"]


@pytest.mark.parametrize("header_value", [None, "", "bearer", "Basic abc", "abc", "bearer a b"])
def test_missing_or_malformed_headers_get_401_with_an_error(client: httpx.Client, header_value: str | None) -> None:
    response = ping(client, header_value)
    assert response.status_code == 401
    error = response.json()["error"]
    assert isinstance(error, str)
    assert "Authentication" in error


def test_an_unknown_key_gets_401(client: httpx.Client) -> None:
    response = ping(client, "bearer not-a-key-anyone-made")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid API key"}


def test_unknown_routes_get_404_and_wrong_methods_405(client: httpx.Client) -> None:
    response = client.get("/v1.0/project/nope")
    assert response.status_code == 404
    assert "/v1.0/project/nope" in response.json()["error"]
    response = client.post("/v1.0/project/ping")
    assert response.status_code == 405
    assert isinstance(response.json()["error"], str)


def test_the_ui_stand_in_shows_the_value_once(iottly: IottlyEmulator) -> None:
    created = FROZEN - timedelta(days=120)
    key = iottly.add_key("greenhouse", "rotation: ingest", created_at=created)
    default = iottly.add_key("greenhouse", "analytics")
    assert isinstance(key, IottlyKey)
    assert len(key.value) >= 40
    assert key.value not in repr(key)
    assert key.value != default.value
    listed = iottly.keys("greenhouse")
    assert listed == [key.info, default.info]
    assert [k.created_at for k in listed] == [created, FROZEN]
    assert not any(hasattr(k, "value") for k in listed)


def test_the_ui_stand_in_rejects_unknown_projects_and_keys(iottly: IottlyEmulator) -> None:
    with pytest.raises(UnknownProjectError, match="orchard"):
        iottly.add_key("orchard", "x")
    with pytest.raises(UnknownKeyError, match="nope"):
        iottly.remove_key("greenhouse", "nope")
    with pytest.raises(ValueError, match="aware"):
        iottly.add_key("greenhouse", "x", created_at=datetime(2026, 1, 1))  # noqa: DTZ001 -- the point
    with pytest.raises(ValueError, match="non-empty"):
        iottly.add_project(" ")
    assert iottly.add_project("greenhouse") == "greenhouse"  # idempotent: seeds can be replayed
    assert iottly.projects() == ["greenhouse"]


def test_admin_routes_drive_the_panel_from_another_process(client: httpx.Client) -> None:
    assert client.post("/_emulator/iottly/projects", json={"name": "orchard"}).status_code == 201
    assert client.get("/_emulator/iottly/projects").json() == {"projects": ["greenhouse", "orchard"]}
    made = client.post(
        "/_emulator/iottly/projects/orchard/keys",
        json={"description": "legacy", "created_at": "2025-11-01T00:00:00+00:00"},
    )
    assert made.status_code == 201
    key = made.json()
    assert set(key) == {"id", "project", "description", "created_at", "value"}
    assert ping(client, f"bearer {key['value']}").status_code == 200
    listed = client.get("/_emulator/iottly/projects/orchard/keys").json()["keys"]
    assert listed == [
        {"id": key["id"], "project": "orchard", "description": "legacy", "created_at": "2025-11-01T00:00:00+00:00"}
    ]
    assert client.delete(f"/_emulator/iottly/projects/orchard/keys/{key['id']}").status_code == 204
    assert ping(client, f"bearer {key['value']}").status_code == 401
    assert client.delete(f"/_emulator/iottly/projects/orchard/keys/{key['id']}").status_code == 404
    assert client.get("/_emulator/iottly/projects/nowhere/keys").status_code == 404
    assert client.post("/_emulator/iottly/projects/nowhere/keys", json={"description": "x"}).status_code == 404
    bad = client.post("/_emulator/iottly/projects/orchard/keys", json={"description": "x", "created_at": 5})
    assert bad.status_code == 400
    assert "created_at" in bad.json()["error"]
    assert client.post("/_emulator/iottly/projects", json={"name": ""}).status_code == 400


def test_throttle_and_error_faults_use_the_error_shape(iottly: IottlyEmulator, client: httpx.Client) -> None:
    key = iottly.add_key("greenhouse", "rotation: ingest")
    iottly.faults.add(Fault("throttle", route="project.ping", times=1, retry_after=7))
    throttled = ping(client, f"bearer {key.value}")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert isinstance(throttled.json()["error"], str)
    iottly.faults.add(Fault("error", route="project.ping", times=1, status=502))
    failed = ping(client, f"bearer {key.value}")
    assert failed.status_code == 502
    assert isinstance(failed.json()["error"], str)
    assert ping(client, f"bearer {key.value}").status_code == 200


def test_a_drop_fault_closes_the_connection_without_an_answer(iottly: IottlyEmulator, client: httpx.Client) -> None:
    key = iottly.add_key("greenhouse", "rotation: ingest")
    iottly.faults.add(Fault("drop", route="project.ping", times=1))
    with pytest.raises(httpx.TransportError):
        ping(client, f"bearer {key.value}")
    assert ping(client, f"bearer {key.value}").status_code == 200
    assert iottly.counters.get("project.ping", 0) == 1


def test_counters_count_pings_per_status(iottly: IottlyEmulator, client: httpx.Client) -> None:
    key = iottly.add_key("greenhouse", "rotation: ingest")
    for _ in range(3):
        ping(client, f"bearer {key.value}")
    ping(client, "bearer wrong")
    client.get("/v1.0/elsewhere")
    assert iottly.counters.get("project.ping") == 4
    assert iottly.counters.get("project.ping", 200) == 3
    assert iottly.counters.get("project.ping", 401) == 1
    assert iottly.counters.get("unmatched", 404) == 1
    assert client.get("/_emulator/counters").json()["project.ping"] == {"200": 3, "401": 1}


def _read_settings(proc: subprocess.Popen[bytes], count: int, deadline: float) -> dict[str, str]:
    """The KEY=VALUE lines the standalone emulator prints once it listens (bounded wait, no fixed sleep)."""
    assert proc.stdout is not None
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while output.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"standalone emulator printed only {output!r} in time"
            if not selector.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, f"standalone emulator exited early with {proc.poll()}"
            output += chunk
    return dict(line.partition("=")[::2] for line in output.decode().splitlines())


def test_standalone_module_serves_a_demo_key_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulators.iottly", "--project", "orchard"], cwd=REPO, env=env, stdout=subprocess.PIPE
    )
    try:
        settings = _read_settings(proc, 4, time.monotonic() + 20)
        assert settings["IOTTLY_PROJECT"] == "orchard"
        ca = ssl.create_default_context(cafile=settings["IOTTLY_CA_BUNDLE"])
        with httpx.Client(verify=ca, timeout=5) as http:
            response = http.get(
                settings["IOTTLY_BASE_URL"] + "/v1.0/project/ping",
                headers={"Authentication": f"bearer {settings['IOTTLY_API_KEY']}"},
            )
        assert response.json() == {"status": "pong"}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    assert code == 0
