"""The bench's moving parts: the emulator process, the worker processes, the emulators' counters over
their admin routes, and the in-process figures (pure audit and planner, cold start, emulator ceiling)."""

from __future__ import annotations

import gc
import http.client
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

START_TIMEOUT = 300.0  # seeding 1,000 apps x 48 tokens takes a while on a shared machine


class FleetServer:
    """`python -m bench.fleet_server` as a subprocess, stopped with SIGTERM on exit."""

    def __init__(self, apps: int, tokens: int, latency: float, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.env_file = work / f"fleet-{apps}-{latency}.json"
        self.args = [
            sys.executable,
            "-m",
            "bench.fleet_server",
            "--apps",
            str(apps),
            "--tokens",
            str(tokens),
            "--latency",
            str(latency),
            "--env-file",
            str(self.env_file),
        ]
        self.endpoints: dict[str, Any] = {}

    def __enter__(self) -> FleetServer:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL)  # noqa: S603 -- our own module
        deadline = time.monotonic() + START_TIMEOUT
        while not self.env_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise SystemExit(f"bench: the emulator process did not start (exit {self.process.poll()})")
            time.sleep(0.05)
        self.endpoints = json.loads(self.env_file.read_text(encoding="utf-8"))
        self.context = ssl.create_default_context(cafile=self.endpoints["ca"])
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def get(self, base: str, path: str) -> bytes:
        parts = urlsplit(base)
        connection = (
            http.client.HTTPSConnection(parts.netloc, context=self.context)
            if parts.scheme == "https"
            else http.client.HTTPConnection(parts.netloc)
        )
        try:
            connection.request("GET", path)
            return connection.getresponse().read()
        finally:
            connection.close()

    def cpu_seconds(self) -> float | None:
        """CPU seconds (user + system) the emulator process has used so far; None off Linux (no /proc)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)

    def counters(self) -> dict[str, int]:
        """Requests per API route (IoT Central and Key Vault; identity apart), admin routes excluded."""
        found: dict[str, int] = {}
        for prefix, base in (
            ("iotc", self.endpoints["iotcentral_base"]),
            ("kv", self.endpoints["vault_url"]),
            ("identity", self.endpoints["identity_endpoint"].rsplit("/msi/", 1)[0]),
        ):
            for route, statuses in json.loads(self.get(base, "/_emulator/counters")).items():
                if route.startswith("_emulator"):
                    continue
                challenged = statuses.get("401", 0) if prefix == "kv" else 0
                found[f"{prefix}:{route}"] = sum(statuses.values()) - challenged
                if challenged:
                    found[f"challenge:{route}"] = challenged
        return found


def calls_between(before: dict[str, int], after: dict[str, int]) -> tuple[int, dict[str, int]]:
    """(IoT Central + Key Vault calls, calls by route) made between two snapshots. Identity token requests
    and Key Vault's 401 challenges (the first request of a client, sent without a bearer to learn the
    vault's tenant) are listed by route but are not calls of the protocol."""
    by_route = {route: n - before.get(route, 0) for route, n in sorted(after.items()) if n - before.get(route, 0)}
    return sum(n for route, n in by_route.items() if not route.startswith(("identity:", "challenge:"))), by_route


def worker(server: FleetServer, job: str, *, first: int, count: int, concurrency: int, reports: Path) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 -- our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "bench.worker",
            job,
            "--env-file",
            str(server.env_file),
            "--first",
            str(first),
            "--count",
            str(count),
            "--concurrency",
            str(concurrency),
            "--reports",
            str(reports),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or not result.get("ok"):
        tail = done.stderr.strip().splitlines()[-3:]
        raise SystemExit(f"bench: {job} of {count} apps failed: {result.get('why') or tail}")
    return result


def _cpu(work: Any) -> float:
    gc.collect()
    started = time.process_time()
    work()
    return time.process_time() - started


def _pure_at(size: int, runs: int) -> tuple[float, float]:
    from bench.synthetic import NOW, synthetic_fleet  # noqa: PLC0415 -- the fleet bench does not need it
    from rotation.audit import findings  # noqa: PLC0415
    from rotation.audit.evaluate import Observed, Policies, evaluate_apps  # noqa: PLC0415
    from rotation.domain.lifecycle import created_from_id  # noqa: PLC0415
    from rotation.engine.planner import plan_rotation  # noqa: PLC0415

    specs, states, checks = synthetic_fleet(size)
    observed, policies = Observed(states, checks), Policies(specs)

    def judge() -> None:  # as the audit job judges: one app's batch at a time, each dropped when written
        for memo in (findings._when_at, findings.age, created_from_id):  # cold, as a new audit process
            memo.cache_clear()
        for _batch in evaluate_apps(observed, policies, NOW):
            pass

    judged = min(_cpu(judge) for _ in range(runs))
    planned = min(_cpu(lambda: plan_rotation(specs, states, NOW)) for _ in range(runs))
    return round(judged, 3), round(planned, 3)


def pure_figures(large: int) -> dict[str, Any]:
    """CPU seconds (this process's, so other processes on the machine count less) of the pure audit and
    `plan_rotation` on synthetic fleets of large/10 and large tokens; best of two for the small one. The
    pure audit is `evaluate_apps` consumed as the audit job does (per-app batches, gc on), not `evaluate`,
    the tests' helper that also sorts every finding of the fleet into one list."""
    out: dict[str, Any] = {"small": large // 10, "large": large}
    out["evaluate_small_s"], out["plan_small_s"] = _pure_at(large // 10, 2)
    out["evaluate_large_s"], out["plan_large_s"] = _pure_at(large, 1)
    out["evaluate_ratio"] = round(out["evaluate_large_s"] / max(out["evaluate_small_s"], 1e-3), 2)
    out["plan_ratio"] = round(out["plan_large_s"] / max(out["plan_small_s"], 1e-3), 2)
    return out


def _import_time(module: str) -> float:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 -- fixed module names
        [sys.executable, "-c", f"import {module}"],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return time.perf_counter() - started


def cold_start(runs: int = 5) -> dict[str, float]:
    """Median wall of a fresh interpreter importing function_app, and azure.functions alone, interleaved."""
    app, base = [], []
    for _ in range(runs):
        app.append(_import_time("function_app"))
        base.append(_import_time("azure.functions"))
    return {
        "function_app_s": round(statistics.median(app), 3),
        "azure_functions_s": round(statistics.median(base), 3),
        "ratio": round(statistics.median(app) / statistics.median(base), 2),
    }


def ceiling(server: FleetServer, threads: int = 8, per_thread: int = 50) -> float:
    """Requests per second the emulator process answers with no injected latency: an admin GET (never
    delayed) over HTTPS, each thread on one keep-alive connection as the service's clients are."""
    parts = urlsplit(server.endpoints["vault_url"])

    def hammer() -> None:
        connection = http.client.HTTPSConnection(parts.netloc, context=server.context)
        try:
            for _ in range(per_thread):
                connection.request("GET", "/_emulator/clock")
                connection.getresponse().read()
        finally:
            connection.close()

    pool = [threading.Thread(target=hammer) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return round(threads * per_thread / (time.perf_counter() - started), 1)


PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def protocol_minimum(case: str, document: Path = PROTOCOL) -> float:
    """The calls per rotation docs/protocol.md gives for `case` (the bold total of its row in the table of
    calls per rotation): the document says what the minimum is and why, the bench only reads it."""
    for line in document.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] == case and (total := re.search(r"\*\*([0-9.]+)\*\*", cells[2])):
            return float(total.group(1))
    raise SystemExit(f"bench: {document}: got no row {case!r} with a bold total, expected one in its calls table")
