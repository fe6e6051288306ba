"""The Key Vault emulator as the SDK tests use it: one vault on loopback HTTPS, its responses checked
against the spec, the test's managed identity granted Key Vault Secrets Officer, and a frozen clock so
that created/updated/deleted dates can be asserted exactly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from emulators.conformance import SpecConformance
from emulators.core import Clock, SandboxAuthority, SandboxCA
from emulators.identity import ManagedIdentity
from emulators.keyvault import KeyVaultEmulator
from tests.conftest import attach_conformance

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
"""The vault's frozen instant: a little in the past, so that freshly issued tokens are not yet expired."""


@dataclass
class Vault:
    emulator: KeyVaultEmulator
    url: str
    ca: SandboxCA

    def client(self, credential: Any = None, **kwargs: Any) -> SecretClient:
        """The real sync client, configured as the service configures it for a loopback vault."""
        return SecretClient(
            self.url,
            credential or ManagedIdentityCredential(),
            verify_challenge_resource=False,
            connection_verify=str(self.ca.pem_path),
            **kwargs,
        )


@contextmanager
def running_vault(
    authority: SandboxAuthority,
    ca: SandboxCA,
    conformance: dict[str, SpecConformance],
    officer: ManagedIdentity,
    **options: Any,
) -> Iterator[Vault]:
    emulator = KeyVaultEmulator(authority, tenant_id=officer.tenant_id, clock=Clock(frozen_at=NOW), **options)
    attach_conformance(emulator, conformance)
    emulator.grant(officer.object_id, "officer")
    with emulator.serve(ca) as url:
        yield Vault(emulator, url, ca)
