"""Benchmark: rotate a fleet of N apps against the emulators, sequentially and with bounded concurrency.

Prints ratios measured in one run (never absolute thresholds: these machines are noisy): the speed-up of
concurrency 4 over 1, the requests each app costs (from the emulators' counters), and peak Python memory
per app (tracemalloc). Run: `make bench` or `python -m bench.bench_rotation --apps 20`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from emulators.sandbox import RunningWorld, SandboxWorld, running_world
from rotation.domain.model import AppSpec, SlotRole, SlotSpec
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime

OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"


def fleet(world: RunningWorld, apps: int, slots: int, prefix: str) -> list[AppSpec]:
    specs = []
    for i in range(apps):
        name = f"{prefix}-{i:03d}"
        app = world.world.iotcentral.add_app(name)
        app.add_service_principal("rotation-service", object_id=world.world.service.object_id,
                                  tenant_id=world.world.service.tenant_id, roles=[{"role": ADMINISTRATOR}])
        app.add_device("d1")
        specs.append(AppSpec(name=name, base_url=world.app_url(name), vault=world.vault_url, slots=tuple(
            SlotSpec(app=name, slot=f"s{j}", secret=f"iotc-{name}-s{j}", roles=(SlotRole(OPERATOR),),
                     lifetime=timedelta(days=30), renew_at=0.67, grace=timedelta(hours=24),
                     max_lifetime=timedelta(days=90)) for j in range(slots))))
    return specs


def measure(world: RunningWorld, specs: list[AppSpec], concurrency: int) -> tuple[float, float, int]:
    settings = replace(Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)}),
                       max_concurrency=concurrency)
    runtime = Runtime(settings, specs)
    before = world.world.iotcentral.counters.total() + world.world.vault.counters.total()
    tracemalloc.start()
    started = time.perf_counter()
    result = run_job(runtime, "rotate")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    runtime.close()
    if result.failed:
        raise SystemExit(f"rotation failed: {[o for o in result.outcomes() if o.status != 'done'][:3]}")
    requests = world.world.iotcentral.counters.total() + world.world.vault.counters.total() - before
    return elapsed, peak / len(specs), requests // len(specs)


def arguments(argv: list[str] | None, description: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--apps", type=int, default=12)
    parser.add_argument("--slots", type=int, default=2)
    return parser.parse_args(argv)


@contextlib.contextmanager
def bench_world() -> Iterator[tuple[Path, RunningWorld]]:
    """An empty world (no sample apps), the real credential pointed at its identity endpoint, and no
    server-side throttle: the benchmarks measure the client."""
    with tempfile.TemporaryDirectory() as tmp, running_world(Path(tmp), world=SandboxWorld(), seed=False) as world:
        os.environ["IDENTITY_ENDPOINT"] = world.identity_endpoint
        os.environ["IDENTITY_HEADER"] = world.world.identity.header_secret
        world.world.iotcentral.rate_limit = None
        yield Path(tmp), world


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv, __doc__)
    with bench_world() as (_, world):
        serial = measure(world, fleet(world, args.apps, args.slots, "seq"), 1)
        parallel = measure(world, fleet(world, args.apps, args.slots, "par"), 4)
    print(f"apps={args.apps} slots/app={args.slots}")
    print(f"requests per app: {serial[2]} (sequential) {parallel[2]} (concurrency 4)")
    print(f"speed-up of concurrency 4 over 1: {serial[0] / parallel[0]:.2f}x")
    print(f"peak traced memory per app: {serial[1] / 1024:.0f} KiB (sequential), {parallel[1] / 1024:.0f} KiB (4)")


if __name__ == "__main__":
    main()
