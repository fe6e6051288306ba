"""A small seeded IoT Central world on loopback HTTPS, shared by the IoT Central emulator tests.

App ``contoso``: organizations eu > eu-north and us; a device in each plus one in none; an
administrator API token. App ``other`` exists so that cross-application mistakes can be shown.
Rate limiting is off unless a test turns it on, so that no test depends on how fast it runs.

One server per test module (`serving`); each test gets fresh apps with their own subdomains and the
emulator's clock, faults, counters and knobs reset (`IotcServer.fresh`), so tests stay independent
without paying a server start and stop each.

Clients carry no client-level ``params``: httpx would then *replace* the query of a ``nextLink``,
dropping its ``$skiptoken``. Requests pass ``params=API`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from emulators.conformance import SpecConformance
from emulators.core import Clock, SandboxAuthority, SandboxCA
from emulators.iotcentral import IoTCentralApp, IoTCentralEmulator
from tests.conftest import attach_conformance

API = {"api-version": "2022-07-31"}
ALL_OPERATIONS = frozenset(
    {
        "ApiTokens_List",
        "ApiTokens_Get",
        "ApiTokens_Create",
        "ApiTokens_Remove",
        "Roles_List",
        "Roles_Get",
        "Users_List",
        "Users_Get",
        "Users_Create",
        "Users_Remove",
        "Organizations_List",
        "Organizations_Get",
        "Devices_List",
    }
)


@dataclass
class Iotc:
    emulator: IoTCentralEmulator
    app: IoTCentralApp
    other: IoTCentralApp
    base_url: str
    ca: SandboxCA
    authority: SandboxAuthority
    admin_token: str

    def client(self, authorization: str | None = None, *, subdomain: str | None = None) -> httpx.Client:
        headers = {"Authorization": authorization} if authorization is not None else {}
        app_url = self.emulator.app_url(self.base_url, subdomain or self.app.subdomain)
        return httpx.Client(base_url=app_url + "/api", verify=self.ca.client_context(), headers=headers, timeout=10)

    def admin(self) -> httpx.Client:
        return self.client(self.admin_token)

    def bearer(
        self,
        *,
        oid: str,
        tid: str,
        audience: str = "https://apps.azureiotcentral.com",
        authority: SandboxAuthority | None = None,
    ) -> str:
        token, _ = (authority or self.authority).issue(
            audience=audience, oid=oid, tid=tid, appid="test-client", now=self.emulator.clock.now()
        )
        return f"Bearer {token}"


def seed(app: IoTCentralApp) -> str:
    app.add_organization("eu", "Europe")
    app.add_organization("eu-north", "Northern Europe", parent="eu")
    app.add_organization("us", "United States")
    app.add_device("d-eu", organization="eu")
    app.add_device("d-eu-north", organization="eu-north", simulated=True)
    app.add_device("d-us", organization="us", enabled=False)
    app.add_device("d-none", display_name="Unassigned device")
    return app.create_token("admin", ["administrator"])


@dataclass
class IotcServer:
    emulator: IoTCentralEmulator
    base_url: str
    ca: SandboxCA
    authority: SandboxAuthority
    generation: int = 0

    def fresh(self) -> Iotc:
        emulator = self.emulator
        emulator.clock = Clock()
        emulator.faults.clear()
        emulator.counters.reset()
        emulator.page_size = 100
        emulator.rate_limit = None
        emulator.propagation_delay = timedelta(0)
        emulator.expiry_policy = "honor"
        self.generation += 1
        app = emulator.add_app(f"contoso-{self.generation}")
        other = emulator.add_app(f"other-{self.generation}")
        return Iotc(emulator, app, other, self.base_url, self.ca, self.authority, seed(app))


@contextmanager
def serving(
    authority: SandboxAuthority, ca: SandboxCA, conformance: dict[str, SpecConformance], **knobs: Any
) -> Iterator[IotcServer]:
    knobs.setdefault("rate_limit", None)
    emulator = IoTCentralEmulator(authority, **knobs)
    attach_conformance(emulator, conformance)
    with emulator.serve(ca) as base_url:
        yield IotcServer(emulator, base_url, ca, authority)


@contextmanager
def running_iotc(
    authority: SandboxAuthority, ca: SandboxCA, conformance: dict[str, SpecConformance], **knobs: Any
) -> Iterator[Iotc]:
    """A server of its own, for tests that need constructor-only knobs (the monotonic time source)."""
    with serving(authority, ca, conformance, **knobs) as server:
        iotc = server.fresh()
        if "rate_limit" in knobs:
            iotc.emulator.rate_limit = knobs["rate_limit"]
        yield iotc


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The spec's error body, after checking the parts every error must carry."""
    body = response.json()
    error = body["error"]
    assert response.headers["x-ms-error-code"] == error["code"]
    assert error["requestId"]
    assert error["time"].endswith(" GMT")
    return dict(error)
