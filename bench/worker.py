"""One measured job in its own process: `python -m bench.worker rotate|audit --env-file F --first I --count N
--concurrency C --reports D` rotates or audits apps I..I+N-1 of the fleet server's fleet and prints one JSON
line: wall seconds, CPU seconds (user + system, all threads), whether it succeeded, and this process's peak
RSS (getrusage, KiB on Linux).

Own process per job, so that each peak RSS is the job's alone (the emulators and the other jobs live
elsewhere) and the cold caches of a fresh interpreter are part of what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.fleet_server import OPERATOR, app_name
from rotation.domain.model import AppSpec, SlotRole, SlotSpec
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime

SLOTS = ("s0", "s1")


def fleet_specs(endpoints: dict[str, Any], first: int, count: int) -> list[AppSpec]:
    """The policy of apps first..first+count-1: two slots each, due at once (never minted)."""
    specs = []
    for index in range(first, first + count):
        name = app_name(index)
        specs.append(
            AppSpec(
                name=name,
                base_url=f"{endpoints['iotcentral_base']}/apps/{name}",
                vault=endpoints["vault_url"],
                slots=tuple(
                    SlotSpec(
                        app=name,
                        slot=slot,
                        secret=f"iotc-{name}-{slot}",
                        roles=(SlotRole(OPERATOR),),
                        lifetime=timedelta(days=30),
                        renew_at=0.67,
                        grace=timedelta(hours=24),
                        max_lifetime=timedelta(days=90),
                    )
                    for slot in SLOTS
                ),
            )
        )
    return specs


def run(job: str, runtime: Runtime) -> tuple[bool, str]:
    """(succeeded, a one-line reason when not); the job modules are imported here, inside the measurement."""
    if job == "rotate":
        from rotation.engine.jobs import run_job  # noqa: PLC0415 -- part of what the worker measures

        result = run_job(runtime, "rotate")
        return not result.failed, "" if not result.failed else str(
            [o for o in result.outcomes() if o.status != "done"][:2]
        )
    from rotation.audit.run import run_audit  # noqa: PLC0415 -- part of what the worker measures

    audit = run_audit(runtime)
    return audit.report.complete, "; ".join(f.message for f in audit.report.errors[:2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("job", choices=("rotate", "audit"))
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    endpoints = json.loads(args.env_file.read_text(encoding="utf-8"))
    os.environ["IDENTITY_ENDPOINT"] = endpoints["identity_endpoint"]
    os.environ["IDENTITY_HEADER"] = endpoints["identity_header"]
    settings = replace(
        Settings.from_env({"ROTATION_CA_BUNDLE": endpoints["ca"]}),
        max_concurrency=args.concurrency,
        reports_dir=args.reports,
    )
    runtime = Runtime(settings, fleet_specs(endpoints, args.first, args.count))
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        ok, why = run(args.job, runtime)
    finally:
        runtime.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = {"job": args.job, "wall": wall, "cpu": cpu, "ok": ok, "why": why, "peak_rss_kib": peak}
    sys.stdout.write(json.dumps(line) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
