"""The bench's emulators, in their own process: `python -m bench.fleet_server --apps N --tokens T --latency S
--env-file F` serves IoT Central, Key Vault and the identity endpoint with N apps of T listed tokens each
(T - 2 unmanaged ones seeded here; the 2 managed slots are minted by the bench's rotation), every API
request delayed by S seconds, until SIGTERM.

Own process, so that the client measured (rotation, audit) does not share an interpreter, a GIL or a
memory peak with the servers. The latency is injected before each API request's handler (admin routes
under /_emulator/ are not delayed: the bench reads the counters there), like a network round trip.
It writes the endpoints as JSON to the env file once it serves.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from werkzeug.wrappers import Request, Response

from emulators.core.runner import run_until_signalled
from emulators.sandbox import RunningWorld, SandboxWorld, running_world

ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
MANAGED_SLOTS = 2


def app_name(index: int) -> str:
    return f"app-{index:05d}"


def populate(world: RunningWorld, apps: int, tokens: int) -> None:
    """Each app: the service principal as administrator, one device (the verification call lists
    devices) and T - 2 unmanaged tokens, so that a rotated app lists T tokens."""
    for index in range(apps):
        app = world.world.iotcentral.add_app(app_name(index))
        app.add_service_principal(
            "rotation-service",
            object_id=world.world.service.object_id,
            tenant_id=world.world.service.tenant_id,
            roles=[{"role": ADMINISTRATOR}],
        )
        app.add_device("d1")
        expiry = world.world.clock.now() + timedelta(days=60)
        for token in range(max(0, tokens - MANAGED_SLOTS)):
            app.create_token(f"human-{token:03d}", [{"role": OPERATOR}], expiry=expiry)


def add_latency(world: RunningWorld, seconds: float) -> None:
    def delay(emulator: str, route: str, request: Request) -> Response | None:
        time.sleep(seconds)
        return None

    if seconds > 0:
        world.world.iotcentral.before_request.append(delay)
        world.world.vault.before_request.append(delay)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_server", description=__doc__)
    parser.add_argument("--apps", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--env-file", type=Path, required=True)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        running_world(Path(tmp), world=SandboxWorld(), seed=False) as world,
    ):
        world.world.iotcentral.rate_limit = None
        # the protocol's calls, not the wait for a new token to propagate (a wall-clock race in call counts)
        world.world.iotcentral.propagation_delay = timedelta(0)
        populate(world, args.apps, args.tokens)
        add_latency(world, args.latency)
        endpoints = {
            "identity_endpoint": world.identity_endpoint,
            "identity_header": world.world.identity.header_secret,
            "ca": str(world.ca.pem_path),
            "vault_url": world.vault_url,
            "iotcentral_base": world.iotcentral_base,
            "apps": args.apps,
        }
        partial = args.env_file.with_name(args.env_file.name + ".partial")
        partial.write_text(json.dumps(endpoints), encoding="utf-8")
        partial.replace(args.env_file)
        run_until_signalled({"BENCH_READY": "1"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
