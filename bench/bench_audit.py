"""Benchmark: audit a rotated fleet of N apps (listings, vault properties, one verification call per slot,
every report written), sequentially and with bounded concurrency, to show why the audit stays a single
invocation while rotation may fan out.

Prints ratios from one run: the speed-up of concurrency 4 over 1, the requests an app's audit costs, the
share of the audit's time spent rendering reports, and the audit's cost relative to rotating the same
fleet. Run: `python -m bench.bench_audit --apps 20` (also part of `make bench`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from bench.bench_rotation import arguments, bench_world, fleet
from emulators.sandbox import RunningWorld
from rotation.audit.evaluate import Policies, evaluate
from rotation.audit.run import gather, run_audit
from rotation.domain.model import AppSpec
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime


def _runtime(world: RunningWorld, specs: list[AppSpec], concurrency: int, reports: Path) -> Runtime:
    settings = replace(Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)}),
                       max_concurrency=concurrency, reports_dir=reports)
    return Runtime(settings, specs)


def _requests(world: RunningWorld) -> int:
    return world.world.iotcentral.counters.total() + world.world.vault.counters.total()


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv, __doc__)
    with bench_world() as (tmp, world):
        specs = fleet(world, args.apps, args.slots, "aud")
        rotate_runtime = _runtime(world, specs, 4, tmp / "r")
        started = time.perf_counter()
        run_job(rotate_runtime, "rotate")
        rotate_time = time.perf_counter() - started
        rotate_runtime.close()

        timings = {}
        for concurrency in (1, 4):
            runtime = _runtime(world, specs, concurrency, tmp / f"c{concurrency}")
            before = _requests(world)
            started = time.perf_counter()
            run = run_audit(runtime)
            timings[concurrency] = time.perf_counter() - started
            requests = (_requests(world) - before) // len(specs)
            started = time.perf_counter()
            observed = gather(runtime)
            gather_time = time.perf_counter() - started
            evaluate(observed, Policies(specs), runtime.now())
            runtime.close()
            if not run.report.complete:
                raise SystemExit(f"audit incomplete: {[f.message for f in run.report.errors][:3]}")
    print(f"apps={args.apps} slots/app={args.slots} findings={len(run.findings)}")
    print(f"requests per app audited: {requests}")
    print(f"speed-up of concurrency 4 over 1: {timings[1] / timings[4]:.2f}x")
    print(f"reports and judging: {max(0.0, 1 - gather_time / timings[4]):.0%} of the audit's time (concurrency 4)")
    print(f"audit time / rotate time for the same fleet (both concurrency 4): {timings[4] / rotate_time:.2f}")


if __name__ == "__main__":
    main()
