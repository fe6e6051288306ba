"""`make bench`: every fleet-scale figure of issue 14 in one run, as ratios (these machines are shared and
noisy; no absolute time is asserted anywhere). `python -m bench.fleet [--apps 1000] [--tokens 50]
[--concurrency 32] [--latency 0.02] [--out bench/results.json]`.

The emulators run in their own process (bench.fleet_server) with `--latency` injected per API request;
each rotation and audit runs in its own process too (bench.worker), which reports its peak RSS. Figures:

- wall, calls (the emulators' counters), network bound = calls / min(concurrency, apps) x latency (the
  jobs fan out per app), and their ratio; the limit bound: the network bound, or the time the job's Key
  Vault calls need under the client's per-vault limits (rotation.adapters.vault_limits: 225 creates and
  3,000 other calls per 10 s; every app of the bench shares one vault) when that is longer;
- speed-up over concurrency 1: concurrency 1 is measured on a subset of `serial_apps` extra apps (rotated
  and audited like the others) and scaled to the fleet by apps (stated in the results);
- calls per rotation against the protocol's minimum, read from docs/protocol.md's table of calls per
  rotation (the "never minted" row: the bench's slots are never minted), so the figure and the document
  cannot drift apart; one more listing page per 100 tokens beyond the first, shared by the app's 2 slots;
- CPU: the worker's own CPU seconds, per call, and the CPU bound (the client's Python code runs on one
  core at a time: CPU seconds are a floor under the wall), so a reader can tell a network-bound run from a
  CPU-bound one; the emulator process's CPU too, and the share of the machine's cores both used
  (near 1: the machine, not the code's waiting, set the wall);
- peak RSS of the audit and of the rotation; the pure audit (`evaluate_apps`, as the audit job consumes it)
  and `plan_rotation` (pure, bench.synthetic) CPU time
  at 10k and 100k tokens and the 10x ratio; cold start `import function_app` / `import azure.functions`
  (fresh interpreters, median of 5); the emulators' own ceiling (req/s at zero latency, 8 client threads on
  keep-alive connections, as the clients use them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from bench.harness import FleetServer, calls_between, ceiling, cold_start, protocol_minimum, pure_figures, worker
from rotation.adapters.vault_limits import CLIENT

PAGE_SIZE = 100  # the emulator's (and IoT Central's) token listing page


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=50, help="tokens listed per app (2 of them managed)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds injected per API request")
    parser.add_argument("--serial-apps", type=int, default=None, help="apps measured at concurrency 1")
    parser.add_argument("--pure-tokens", type=int, default=100_000, help="the larger pure audit / planner input")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh interpreters per cold-start median")
    parser.add_argument("--ceiling-requests", type=int, default=400, help="requests of the ceiling figure")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--work", type=Path, default=None, help="where run folders go (default: a temp dir)")
    return parser.parse_args(argv)


def _job(
    server: FleetServer, job: str, *, first: int, count: int, concurrency: int, latency: float, reports: Path
) -> dict[str, Any]:
    before, server_cpu = server.counters(), server.cpu_seconds()
    result = worker(server, job, first=first, count=count, concurrency=concurrency, reports=reports)
    calls, by_route = calls_between(before, server.counters())
    emulator_cpu = None if server_cpu is None else (server.cpu_seconds() or 0.0) - server_cpu
    bound = calls / min(concurrency, count) * latency  # apps are the unit of concurrency
    limit = max(bound, vault_limit_bound(by_route))
    return {
        "apps": count,
        "concurrency": concurrency,
        "wall_s": round(result["wall"], 3),
        "calls": calls,
        "calls_by_route": by_route,
        "network_bound_s": round(bound, 3),
        "wall_over_bound": round(result["wall"] / bound, 2) if bound else None,
        "limit_bound_s": round(limit, 3),
        "wall_over_limit_bound": round(result["wall"] / limit, 2) if limit else None,
        "peak_rss_mib": round(result["peak_rss_kib"] / 1024, 1),
        "cpu_s": round(result["cpu"], 3),
        "cpu_ms_per_call": round(1000 * result["cpu"] / calls, 2) if calls else None,
        "wall_over_cpu": round(result["wall"] / result["cpu"], 2) if result["cpu"] else None,
        "emulator_cpu_s": None if emulator_cpu is None else round(emulator_cpu, 3),
        "machine_cpu_share": _cpu_share(result["cpu"], emulator_cpu, result["wall"]),
    }


def vault_limit_bound(by_route: dict[str, int]) -> float:
    """The least time the job's Key Vault calls take under the client's per-vault limits (the bench's apps
    share one vault): its creates (SetSecret) and its other calls, each at its own budget."""
    creates = by_route.get("kv:SetSecret", 0)
    others = sum(n for route, n in by_route.items() if route.startswith("kv:")) - creates
    window = CLIENT.window
    return max(creates / CLIENT.create * window, others / CLIENT.other * window)


def _cpu_share(client: float, emulator: float | None, wall: float) -> float | None:
    """(client + emulator CPU) / (wall x cores): near 1, the machine's cores were busy all along and no
    concurrency setting can bring the wall closer to the network bound on it."""
    cores = os.cpu_count() or 1
    return None if emulator is None or not wall else round((client + emulator) / (wall * cores), 2)


def fleet_figures(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    serial = args.serial_apps or max(1, min(20, args.apps // 50))
    with FleetServer(args.apps + serial, args.tokens, args.latency, work) as server:
        out: dict[str, Any] = {}
        for job in ("rotate", "audit"):
            fleet = _job(
                server,
                job,
                first=0,
                count=args.apps,
                concurrency=args.concurrency,
                latency=args.latency,
                reports=work / f"{job}-fleet",
            )
            one = _job(
                server,
                job,
                first=args.apps,
                count=serial,
                concurrency=1,
                latency=args.latency,
                reports=work / f"{job}-serial",
            )
            scaled = one["wall_s"] * args.apps / serial
            out[job] = {
                **fleet,
                "concurrency_1": {**one, "scaled_to_fleet_wall_s": round(scaled, 3)},
                "speed_up_over_concurrency_1": round(scaled / fleet["wall_s"], 2),
            }
        rotations = args.apps * 2
        minimum = protocol_minimum("never minted") + (math.ceil(args.tokens / PAGE_SIZE) - 1) / 2
        out["rotate"]["calls_per_rotation"] = round(out["rotate"]["calls"] / rotations, 2)
        out["rotate"]["minimum_calls_per_rotation"] = minimum
        out["audit"]["calls_per_app"] = round(out["audit"]["calls"] / args.apps, 2)
        out["emulator_ceiling_rps"] = ceiling(server, per_thread=max(1, args.ceiling_requests // 8))
    return out


def _row(name: str, value: object, target: str) -> str:
    return f"| {name} | {value} | {target} |"


def table(results: dict[str, Any]) -> str:
    r, a, p = results["rotate"], results["audit"], results["pure"]
    rows = [
        "| figure | measured | target |",
        "|---|---|---|",
        _row(
            f"audit peak RSS ({results['apps']} apps x {results['tokens']} tokens)",
            f"{a['peak_rss_mib']} MiB",
            "<= 250 MB",
        ),
        _row("rotate peak RSS", f"{r['peak_rss_mib']} MiB", "-"),
        _row(f"audit wall / network bound (concurrency {a['concurrency']})", a["wall_over_bound"], "<= 1.3"),
        _row("audit speed-up over concurrency 1", f"{a['speed_up_over_concurrency_1']}x", ">= 15x"),
        _row(f"rotate wall / network bound (concurrency {r['concurrency']})", r["wall_over_bound"], "<= 1.3"),
        _row("rotate speed-up over concurrency 1", f"{r['speed_up_over_concurrency_1']}x", ">= 15x"),
        _row(
            "wall / max(network, Key Vault limit) bound, audit / rotate",
            f"{a['wall_over_limit_bound']} / {r['wall_over_limit_bound']}",
            "-",
        ),
        _row(
            "client CPU per call, audit / rotate (ms)",
            f"{a['cpu_ms_per_call']} / {r['cpu_ms_per_call']}",
            "-",
        ),
        _row("wall / client CPU, audit / rotate (1 = CPU-bound)", f"{a['wall_over_cpu']} / {r['wall_over_cpu']}", "-"),
        _row(
            f"CPU share of the machine's {os.cpu_count()} cores (client + emulators), audit / rotate",
            f"{a['machine_cpu_share']} / {r['machine_cpu_share']}",
            "-",
        ),
        _row(
            "calls per rotation (2 due slots per app)",
            r["calls_per_rotation"],
            f"minimum {r['minimum_calls_per_rotation']}",
        ),
        _row("audit calls per app", a["calls_per_app"], "-"),
        _row(f"pure audit (`evaluate_apps`) on {p['large']} tokens (CPU s)", p["evaluate_large_s"], "<= 1 s"),
        _row("pure audit 10x input / time ratio", p["evaluate_ratio"], "<= 11"),
        _row(
            f"planner on {p['large']} / {p['small']} tokens (CPU s)",
            f"{p['plan_large_s']} / {p['plan_small_s']}",
            "keep (0.19 / 0.13)",
        ),
        _row("cold start import function_app / azure.functions", results["cold_start"]["ratio"], "keep (1.01x)"),
        _row("emulator ceiling at zero latency", f"{results['emulator_ceiling_rps']} req/s", "not the bottleneck"),
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    import tempfile  # noqa: PLC0415 -- only the entry point needs it

    args = arguments(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = args.work or Path(tmp)
        results: dict[str, Any] = {
            "apps": args.apps,
            "tokens": args.tokens,
            "latency_s": args.latency,
            **fleet_figures(args, work),
        }
        results["pure"] = pure_figures(args.pure_tokens)
        results["cold_start"] = cold_start(args.cold_runs)
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(table(results))
    print(f"written to {args.out} in {results['bench_wall_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
