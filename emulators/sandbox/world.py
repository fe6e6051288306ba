"""Builds and runs the sandbox: the emulators on one clock, one CA and one JWT authority.

`running_world()` starts every emulator on loopback and yields a `RunningWorld` that knows their URLs
and the `KEY=value` settings the service and other tools need. Seeding lives in `seed.py`.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from emulators.core import Clock, SandboxAuthority, SandboxCA
from emulators.identity import IdentityEmulator, ManagedIdentity
from emulators.iotcentral import IoTCentralEmulator
from emulators.iottly import IottlyEmulator
from emulators.keyvault import KeyVaultEmulator
from emulators.sandbox.seed import seed_sample_world

SAMPLE_APP = "contoso-fleet"
VAULT_NAME = "kv-sandbox"
SANDBOX_POLICIES = Path(__file__).parent / "policies"


@dataclass
class SandboxWorld:
    """The emulators of one sandbox, not yet serving."""

    clock: Clock = field(default_factory=Clock)
    authority: SandboxAuthority = field(default_factory=SandboxAuthority)
    service: ManagedIdentity = field(default_factory=lambda: ManagedIdentity("rotation-service"))

    def __post_init__(self) -> None:
        self.identity = IdentityEmulator(self.authority, system=self.service, clock=self.clock)
        self.iotcentral = IoTCentralEmulator(self.authority, clock=self.clock)
        self.vault = KeyVaultEmulator(
            self.authority, vault_name=VAULT_NAME, tenant_id=self.service.tenant_id, clock=self.clock
        )
        self.vault.grant(self.service.object_id, "officer")
        self.iottly = IottlyEmulator(clock=self.clock)


@dataclass
class RunningWorld:
    world: SandboxWorld
    ca: SandboxCA
    directory: Path
    identity_endpoint: str
    iotcentral_base: str
    vault_url: str
    iottly_url: str
    bootstrap_token_file: Path | None = None

    def app_url(self, subdomain: str) -> str:
        return f"{self.iotcentral_base}/apps/{subdomain}"

    def settings(self) -> dict[str, str]:
        """What a tool needs to point at the sandbox (no secret values: the bootstrap token is in a file),
        including every ROTATION_* setting the `rotation` CLI needs, so that `set -a; . ./.sandbox.env;
        set +a; rotation plan` works as it is (reports go to ./reports, the default)."""
        values = {
            "ROTATION_CA_BUNDLE": str(self.ca.pem_path),
            "ROTATION_POLICIES": str(SANDBOX_POLICIES),
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.world.identity.header_secret,
            "SANDBOX_CA_BUNDLE": str(self.ca.pem_path),
            "SANDBOX_VAULT_URL": self.vault_url,
            "SANDBOX_IOTCENTRAL_BASE": self.iotcentral_base,
            "SANDBOX_IOTCENTRAL_URL": self.app_url(SAMPLE_APP),
            "SANDBOX_IOTTLY_URL": self.iottly_url,
            "SANDBOX_SERVICE_OBJECT_ID": self.world.service.object_id,
            "SANDBOX_SERVICE_TENANT_ID": self.world.service.tenant_id,
            "SANDBOX_CLOCK_URL": self.identity_endpoint.rsplit("/msi/", 1)[0] + "/_emulator/clock",
        }
        if self.bootstrap_token_file is not None:
            values["SANDBOX_BOOTSTRAP_TOKEN_FILE"] = str(self.bootstrap_token_file)
        return values

    def write_private(self, name: str, content: str) -> Path:
        """A file only the owner can read (the sandbox's one-off bootstrap admin token)."""
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        return path


@contextmanager
def running_world(directory: Path, *, world: SandboxWorld | None = None, seed: bool = True) -> Iterator[RunningWorld]:
    """Serve every emulator of `world` (a new one by default), seeded with the sample world."""
    world = world or SandboxWorld()
    directory.mkdir(parents=True, exist_ok=True)
    ca = SandboxCA(directory)
    with ExitStack() as stack:
        running = RunningWorld(
            world=world,
            ca=ca,
            directory=directory,
            identity_endpoint=stack.enter_context(world.identity.serve()),
            iotcentral_base=stack.enter_context(world.iotcentral.serve(ca)),
            vault_url=stack.enter_context(world.vault.serve(ca)),
            iottly_url=stack.enter_context(world.iottly.serve(ca)),
        )
        if seed:
            bootstrap_token = seed_sample_world(world)
            running.bootstrap_token_file = running.write_private(
                f"bootstrap-token-{secrets.token_hex(4)}", bootstrap_token
            )
        yield running
