"""The sandbox cycle `make sandbox` runs: the real `rotation` CLI, as subprocesses, against the running
sample world -- bootstrap, plan, run; then the clocks of the emulators and of the service advance together
past the grace period and it runs again; then `rotation doctor --live` checks the deployment. Every output
is checked for token values before it is shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from emulators.sandbox.world import RunningWorld

POLICIES = Path(__file__).parent / "policies"
ADVANCE = timedelta(hours=25)


@dataclass
class CycleLog:
    outputs: list[str] = field(default_factory=list)
    runs: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    audits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exit_codes: dict[str, int] = field(default_factory=dict)


def service_env(world: RunningWorld, reports: Path, offset: timedelta) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATION_", "AZURE_"))}
    env.update(world.settings())
    env.update(
        {
            "ROTATION_CA_BUNDLE": str(world.ca.pem_path),
            "ROTATION_POLICIES": str(POLICIES),
            "ROTATION_REPORTS_DIR": str(reports),
            "NO_COLOR": "1",
            "COLUMNS": "140",
        }
    )
    if offset:
        env["ROTATION_CLOCK_OFFSET"] = f"PT{int(offset.total_seconds())}S"
    return env


def rotation(args: list[str], env: dict[str, str], log: CycleLog, stdin: str = "") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rotation", *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )
    log.outputs.extend([done.stdout, done.stderr])
    log.exit_codes[" ".join(args)] = done.returncode
    return done


def run_cycle(world: RunningWorld, reports: Path, show: Any) -> CycleLog:
    log = CycleLog()
    env = service_env(world, reports, timedelta(0))
    show("policies check", rotation(["policies", "check"], env, log))
    token = world.bootstrap_token_file.read_text(encoding="utf-8") if world.bootstrap_token_file else ""
    show("bootstrap northwind-labs", rotation(["bootstrap", "--app", "northwind-labs"], env, log, stdin=token))
    show("plan", rotation(["plan"], env, log))
    baseline = rotation(["audit", "--json"], env, log)
    log.audits.append(("audit before the first run", json.loads(baseline.stdout or "{}")))
    _record_run(log, "run (now)", rotation(["run", "--json"], env, log))
    world.world.clock.advance(ADVANCE)
    later = service_env(world, reports, ADVANCE)
    _record_run(
        log,
        f"run (+{ADVANCE.total_seconds() / 3600:.0f}h, past the grace period)",
        rotation(["run", "--json"], later, log),
    )
    dirs = [str(audit["run_dir"]) for _, audit in log.audits if audit.get("run_dir")]
    if len(dirs) >= 2:
        show("report diff (before the first run → after it)", rotation(["report", "diff", *dirs[:2]], env, log))
    # The pre-flight a platform engineer runs after deploying; --live mints and deletes one throwaway token per app.
    show("doctor --live", rotation(["doctor", "--live", "--out", str(reports / "doctor.json")], later, log))
    return log


def _record_run(log: CycleLog, title: str, done: subprocess.CompletedProcess[str]) -> None:
    """`run --json` prints the rotate and revoke jobs, then the audit's summary."""
    jobs = json.loads(done.stdout or "{}").get("jobs", [])
    log.runs.append((title, [job for job in jobs if "apps" in job]))
    log.audits.extend((f"audit after {title}", job) for job in jobs if job.get("job") == "audit")


def leaked_values(world: RunningWorld, log: CycleLog, extra: list[Path]) -> list[str]:
    """Every token or key value in the vault, checked against everything the cycle printed or wrote."""
    values = {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
    if world.bootstrap_token_file:
        values.add(world.bootstrap_token_file.read_text(encoding="utf-8").strip())
    text = "".join(log.outputs) + "".join(p.read_text(errors="replace") for p in extra if p.is_file())
    return [v[:12] + "…" for v in values if v and v in text]
