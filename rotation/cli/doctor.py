"""`rotation doctor`: the pre-flight after a deployment (`rotation.hosting.doctor` has the checks).

One line per check, `ok|FAIL|skip  <check>  <detail>`, as they run (a slow vault shows where it is
slow); `--json` prints the whole document instead. With `--live` or `--out` the document is also
written to a file (default `<ROTATION_REPORTS_DIR>/doctor.json`), figures included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rotation.cli.output import console, emit_json, guarded
from rotation.hosting.config import Settings
from rotation.hosting.doctor import Check, DoctorOptions, run_doctor


def _print(check: Check) -> None:
    console.print(check.line(), markup=False, highlight=False, soft_wrap=True)


@guarded
def doctor(
    apps: Annotated[list[str] | None, typer.Option("--app", help="only these apps (repeatable)")] = None,
    live: Annotated[
        bool, typer.Option("--live", help="also mint a throwaway Operator token per app, measure it, delete it")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="write the JSON document here (default with --live: REPORTS_DIR/doctor.json)"),
    ] = None,
    live_budget: Annotated[
        float, typer.Option("--live-budget", min=1, max=3600, help="seconds a new token may take to be accepted")
    ] = 180.0,
) -> None:
    """Check identity, app roles, vault RBAC, storage, policies and schedules; exit 0 ok, 2 bad input, 3 failed."""
    options = DoctorOptions(apps=apps, live=live, live_budget=live_budget)
    report = run_doctor(options, on_check=(lambda _: None) if as_json else _print)
    document = report.document()
    if out is None and live:
        out = Settings.from_env().reports_dir / "doctor.json"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if as_json:
        emit_json(document)
    elif out is not None:
        console.print(f"figures written to {out}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)
