"""`make sandbox`: every emulator with the sample world, then a full cycle of the real service against it.

Prints where everything listens, the plan, what each run did per app and why (minted, verified, promoted,
revoked, swept), and checks that no token value appeared in anything the service printed or wrote.
Running it twice in a row works: each run starts a fresh world.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from emulators.sandbox.cycle import CycleLog, leaked_values, run_cycle
from emulators.sandbox.world import RunningWorld, running_world

console = Console(width=max(Console().width, 150))
KINDS = {
    "Mint": "minted, verified, promoted",
    "ResumePending": "resumed and promoted",
    "Revoke": "revoked",
    "DeleteToken": "deleted",
    "AbandonPending": "abandoned",
    "FinishPromotion": "repaired",
    "MarkSuperseded": "repaired",
    "Blocked": "blocked",
}


def show_endpoints(world: RunningWorld) -> None:
    settings = world.settings()
    where = Table(title="Sandbox endpoints (loopback emulators)", show_header=False, title_justify="left")
    for key in (
        "IDENTITY_ENDPOINT",
        "SANDBOX_IOTCENTRAL_BASE",
        "SANDBOX_VAULT_URL",
        "SANDBOX_IOTTLY_URL",
        "SANDBOX_CA_BUNDLE",
    ):
        where.add_row(key, settings[key])
    console.print(where)


def show_step(title: str, done: subprocess.CompletedProcess[str]) -> None:
    console.rule(f"rotation {title}  (exit {done.returncode})")
    sys.stdout.write(done.stdout)
    if done.stderr.strip():
        sys.stdout.write(done.stderr)


def _rows(jobs: Iterable[dict[str, Any]]) -> Iterable[tuple[str, ...]]:
    for job in jobs:
        for app in job["apps"]:
            for outcome in app["outcomes"]:
                yield (
                    job["job"],
                    app["app"],
                    outcome["slot"] or "-",
                    KINDS.get(outcome["action"], outcome["action"]),
                    outcome["status"],
                    outcome["reason"],
                    outcome["detail"],
                )
            for token in app.get("unmanaged", []) if job["job"] == "revoke" else []:
                yield (job["job"], app["app"], "-", "kept (unmanaged)", "reported", "made by a person", token)
            for action in app["planned"]:
                if "slot" in action and not app["outcomes"] and action.get("reason"):
                    slot = action.get("slot") or "-"
                    yield (job["job"], app["app"], slot, "blocked", "skipped", action["reason"], "")


def show_summary(log: CycleLog) -> None:
    for title, jobs in log.runs:
        table = Table(title=f"Summary: {title}", title_justify="left")
        for column in ("job", "app", "slot", "what", "status", "why", "detail"):
            table.add_column(column, overflow="fold")
        for row in _rows(jobs):
            table.add_row(*row)
        console.print(table)


SEVERITIES = ("critical", "high", "medium", "low", "info")


def show_audits(log: CycleLog) -> None:
    table = Table(title="Audit runs (open findings by severity; reports in each run folder)", title_justify="left")
    for column in ("audit", *SEVERITIES, "new", "resolved", "exit", "run folder"):
        table.add_column(column, overflow="fold")
    for title, audit in log.audits:
        counts = audit.get("open_by_severity", {})
        diff = audit.get("diff", audit)
        table.add_row(
            title,
            *(str(counts.get(s, 0)) for s in SEVERITIES),
            str(len(diff.get("new", []))),
            str(len(diff.get("resolved", []))),
            str(audit.get("exit_code", "?")),
            audit.get("run_dir", "?"),
        )
    console.print(table)
    if log.audits and log.audits[-1][1].get("run_dir"):
        console.print(f"Open the latest report: {log.audits[-1][1]['run_dir']}/audit.html", markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.sandbox", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="CA bundle and sandbox files")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="where the service writes reports")
    args = parser.parse_args(argv)
    args.reports.mkdir(parents=True, exist_ok=True)
    with running_world(args.dir) as world:
        show_endpoints(world)
        log = run_cycle(world, args.reports, show_step)
        show_summary(log)
        show_audits(log)
        written = [p for p in args.reports.rglob("*") if p.is_file()]
        leaks = leaked_values(world, log, written)
    if leaks:
        console.print(f"[red]token values appeared in the output: {leaks}[/red]")
        return 1
    console.print(
        f"No token value in any output ({len(log.outputs)} streams, {len(written)} report files checked). "
        "Exit codes: " + ", ".join(f"{k.split()[0]}={v}" for k, v in log.exit_codes.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
