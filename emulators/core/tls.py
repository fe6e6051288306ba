"""The sandbox certificate authority (trustme): HTTPS on loopback with a CA that clients are given
explicitly, never by weakening verification."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme


class SandboxCA:
    def __init__(self, directory: Path | None = None) -> None:
        self._ca = trustme.CA(organization_name="rotation sandbox CA")
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost", "::1")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sandbox-ca-")
            directory = Path(self._tmp.name)
        directory.mkdir(parents=True, exist_ok=True)
        self.pem_path = directory / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.pem_path))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pem_path))

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
