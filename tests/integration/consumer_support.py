"""A consumer of the sample world's contoso-fleet dashboard-reader slot: its own managed identity (Key
Vault Secrets User only), the real `SecretClient` and `httpx.Client` through `rotation.consumer`."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta

import httpx
from azure.identity import ManagedIdentityCredential
from werkzeug.wrappers import Request, Response

from emulators.identity import ManagedIdentity
from emulators.sandbox import RunningWorld
from rotation.consumer import IoTCentralAuth, KeyVaultTokenReader, TokenCache, build_consumer_secret_client
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

APP = "contoso-fleet"
SLOT = "dashboard-reader"
SECRET = f"iotc-{APP}-{SLOT}"
DEVICES = "/api/devices?api-version=2022-07-31"


def service_runtime(world: RunningWorld, offset: timedelta) -> Runtime:
    """The service as test_jobs_sample_world runs it, at the sandbox clock offset, declaring only the
    consumer's slot of contoso-fleet (each job then reads one secret, which keeps 21 cycles short; the
    other slots' tokens become undeclared managed tokens, which the sweep treats as orphans)."""
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)})
    settings = Settings(**{**settings.__dict__, "clock_offset": offset})
    apps = [
        replace(app, slots=tuple(s for s in app.slots if s.slot == SLOT))
        for app in sample_specs(world)
        if app.name == APP
    ]
    return Runtime(settings, apps)


def _oid(request: Request) -> str | None:
    """The caller's object id from its bearer (the test reads the claim; the emulator verified it)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims.get("oid") if isinstance(claims, dict) else None


@dataclass
class VaultReads:
    """GetSecret requests of one identity for one secret, as the vault emulator served them."""

    object_id: str
    secret: str
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, emulator: str, route: str, request: Request, response: Response) -> None:
        if route == "GetSecret" and f"/secrets/{self.secret}" in request.path and _oid(request) == self.object_id:
            with self._lock:
                self.count += 1


@dataclass
class Consumer:
    cache: TokenCache
    auth: IoTCentralAuth
    http: httpx.Client
    vault_reads: VaultReads
    identity: ManagedIdentity


@contextmanager
def consumer(
    world: RunningWorld,
    *,
    secret: str = SECRET,
    max_age: timedelta = timedelta(hours=6),
    grace: timedelta = timedelta(hours=24),
) -> Iterator[Consumer]:
    identity = world.world.identity.add_user_assigned(ManagedIdentity("store-app"))
    world.world.vault.grant(identity.object_id, "user")
    reads = VaultReads(identity.object_id, secret)
    world.world.vault.observers.append(reads.observe)
    credential = ManagedIdentityCredential(client_id=identity.client_id)
    client = build_consumer_secret_client(world.vault_url, credential, ca_bundle=str(world.ca.pem_path))
    cache = TokenCache(KeyVaultTokenReader(client, secret), max_age=max_age, grace=grace, clock=world.world.clock.now)
    app_url = world.app_url(APP)
    auth = IoTCentralAuth(cache, app_url)
    verify = ssl.create_default_context(cafile=str(world.ca.pem_path))
    with client, httpx.Client(base_url=app_url, auth=auth, verify=verify, trust_env=False) as http:
        yield Consumer(cache, auth, http, reads, identity)
