"""What every emulator's server does on the wire, as Azure's front ends do: HTTP/1.1 keep-alive (a pooled
client reuses one TCP connection, request bodies included or not read), no Content-Type on a 204, `Allow`
on a 405, and a stopped server closes its idle kept-alive connections. Connections are counted server-side."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators.core import SandboxAuthority, SandboxCA
from emulators.iotcentral import IoTCentralEmulator


@pytest.fixture
def served(sandbox_ca: SandboxCA) -> Iterator[tuple[IoTCentralEmulator, httpx.Client, str]]:
    emulator = IoTCentralEmulator(SandboxAuthority())
    with (
        emulator.serve(sandbox_ca) as base_url,
        httpx.Client(verify=sandbox_ca.client_context(), trust_env=False) as client,
    ):
        yield emulator, client, base_url


def test_three_requests_on_one_client_use_one_connection(served: tuple[IoTCentralEmulator, httpx.Client, str]) -> None:
    emulator, client, base_url = served
    assert client.get(f"{base_url}/_emulator/counters").status_code == 200
    assert client.post(f"{base_url}/_emulator/clock", json={"advance_seconds": 1}).status_code == 200
    answer = client.get(f"{base_url}/_emulator/clock")
    assert answer.status_code == 200
    assert answer.headers.get("connection", "").lower() != "close"
    assert emulator.connections.count == 1


def test_an_unread_request_body_does_not_break_the_next_request(
    served: tuple[IoTCentralEmulator, httpx.Client, str],
) -> None:
    emulator, client, base_url = served
    refused = client.put(f"{base_url}/_emulator/counters", content=b'{"x": "' + b"y" * 50_000 + b'"}')
    assert refused.status_code == 405
    assert client.get(f"{base_url}/_emulator/counters").status_code == 200
    assert emulator.connections.count == 1


def test_a_204_has_no_content_type_nor_length(served: tuple[IoTCentralEmulator, httpx.Client, str]) -> None:
    _, client, base_url = served
    answer = client.delete(f"{base_url}/_emulator/faults")
    assert answer.status_code == 204
    assert "content-type" not in answer.headers
    assert "content-length" not in answer.headers
    assert answer.content == b""


def test_a_405_says_which_methods_are_allowed(served: tuple[IoTCentralEmulator, httpx.Client, str]) -> None:
    _, client, base_url = served
    answer = client.patch(f"{base_url}/_emulator/clock")
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    assert answer.json()["error"]["code"] == "MethodNotAllowed"


def test_a_stopped_server_closes_its_kept_alive_connections(sandbox_ca: SandboxCA) -> None:
    emulator = IoTCentralEmulator(SandboxAuthority())
    with httpx.Client(verify=sandbox_ca.client_context(), trust_env=False) as client:
        with emulator.serve(sandbox_ca) as base_url:
            assert client.get(f"{base_url}/_emulator/counters").status_code == 200
        with pytest.raises(httpx.TransportError):
            client.get(f"{base_url}/_emulator/counters")
