"""A request too malformed to reach any route still gets a JSON error body, never an HTML page."""

from __future__ import annotations

import json
import socket
import ssl
from urllib.parse import urlsplit

from emulators.core import SandboxAuthority, SandboxCA
from emulators.iotcentral import IoTCentralEmulator


def test_an_oversized_header_gets_the_json_error_shape(sandbox_ca: SandboxCA) -> None:
    emulator = IoTCentralEmulator(SandboxAuthority())
    with emulator.serve(sandbox_ca) as base_url:
        parts = urlsplit(base_url)
        context = ssl.create_default_context(cafile=str(sandbox_ca.pem_path))
        with (
            socket.create_connection((parts.hostname, parts.port)) as raw,
            context.wrap_socket(raw, server_hostname=parts.hostname) as conn,
        ):
            conn.sendall(b"GET /apps/x/api/roles HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.")
    assert b" 431 " in head.split(b"\r\n")[0]
    assert b"x-ms-error-code: BadRequest" in head
    assert set(json.loads(body)["error"]) >= {"code", "message"}
