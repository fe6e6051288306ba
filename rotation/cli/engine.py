"""The engine's commands: plan, rotate, revoke, run, simulate (the admin ones are in `rotation.cli.admin`).

A thin shell: each command loads settings and policies, builds the runtime, calls `rotation.engine.jobs`,
and prints a table (or JSON with --json).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import Progress

from rotation.audit.report.files import FORMATS
from rotation.cli import audit as cli_audit
from rotation.cli import manual
from rotation.cli.examples import epilog
from rotation.cli.jsonout import emit_document, planned
from rotation.cli.output import Exit, console, err_console, guarded, table, tls_cause
from rotation.domain.events import check_reason
from rotation.engine import admin
from rotation.engine.actions import Blocked
from rotation.engine.jobs import AppRun, Job, JobResult, run_job
from rotation.engine.simulate import simulate
from rotation.errors import PolicyError, UserError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs, select_apps

AppOpt = Annotated[list[str] | None, typer.Option("--app", help="only these apps (repeatable)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def runtime_for(apps: list[str] | None) -> Runtime:
    settings = Settings.from_env()
    specs, _ = load_app_specs(settings)
    return Runtime(settings, select_apps(specs, apps))


def _run(runtime: Runtime, job: Job, **kwargs: object) -> JobResult:
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"{job}", total=len(runtime.apps))
        return run_job(runtime, job, on_app_done=lambda _: progress.advance(task), **kwargs)  # type: ignore[arg-type]


def _planned_rows(runs: list[AppRun]) -> list[tuple[str, str, str, str]]:
    return [
        row
        for run in runs
        for row in [
            *((a.app, getattr(a, "slot", None) or "-", type(a).__name__, a.reason) for a in run.planned),
            *((run.app, "-", "Read", error) for error in _unsaid(run.state.errors, [a.reason for a in run.planned])),
        ]
    ]


def _unsaid(errors: tuple[str, ...], said: list[str]) -> list[str]:
    return [error for error in errors if not any(error in text for text in said)]


def _outcome_rows(run: AppRun) -> list[tuple[str, str, str, str, str, str]]:
    """What happened to one app, and always why it failed: an app that failed before planning has no
    outcome, only a Blocked action (and its read errors), which become rows of their own."""
    rows: list[tuple[str, str, str, str, str, str]] = [
        (o.app, o.slot or "-", o.action, o.status, o.reason, o.detail) for o in run.outcomes
    ]
    if not run.outcomes:
        rows += [
            (a.app, a.slot or "-", "Blocked", "failed", a.reason, "") for a in run.planned if isinstance(a, Blocked)
        ]
    rows += [
        (run.app, "-", "Read", "failed", error, "")
        for error in _unsaid(run.state.errors, [f"{row[4]} {row[5]}" for row in rows])
    ]
    return rows


def _app_json(run: AppRun) -> dict[str, object]:
    return {
        "app": run.app,
        "planned": [planned(a) for a in run.planned],
        "outcomes": run.outcomes,
        "errors": run.state.errors,
        "unmanaged": run.unmanaged,
    }


def report(result: JobResult, as_json: bool) -> int:
    if as_json:
        emit_document(
            {
                "job": result.job,
                "dry_run": result.dry_run,
                "failed": result.failed,
                "apps": [_app_json(r) for r in result.apps],
            }
        )
    elif result.dry_run:
        table(f"{result.job}: plan (nothing changed)", ("app", "slot", "action", "reason"), _planned_rows(result.apps))
    else:
        table(
            f"{result.job}: what happened",
            ("app", "slot", "action", "status", "reason", "detail"),
            [row for run in result.apps for row in _outcome_rows(run)],
        )
    if result.job == "revoke" and not as_json and any(r.unmanaged for r in result.apps):
        table(
            "unmanaged tokens (made by people): kept, reported",
            ("app", "token"),
            [(r.app, token) for r in result.apps for token in r.unmanaged],
        )
    if not as_json and not result.dry_run:
        for line in _problems(result):
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return Exit.FAILED if result.failed and not result.dry_run else Exit.OK


def _problems(result: JobResult) -> list[str]:
    """One line per blocked or failed item, on stderr: the reason the exit code is 3, never folded."""
    lines: list[str] = []
    untrusted: dict[str, list[str]] = {}
    for run in result.apps:
        for _, slot, action, status, reason, detail in _outcome_rows(run):
            if status == "failed" or (status == "skipped" and action == "Blocked"):
                where = run.app if slot == "-" else f"{run.app}/{slot}"
                if cause := tls_cause(f"{reason} {detail}"):  # named once, not once per request that failed
                    untrusted.setdefault(cause, []).append(where)
                    continue
                what = "blocked" if action == "Blocked" else f"{action} failed"
                lines.append(f"{result.job}: {where}: {what}: {reason}" + (f" ({detail})" if detail else ""))
    return [*(f"{result.job}: {', '.join(wheres)}: {cause}" for cause, wheres in untrusted.items()), *lines]


@guarded
def plan(apps: AppOpt = None, as_json: JsonOpt = False) -> None:
    """What rotate and revoke would do now, and why. Changes nothing. Exits 3, like rotate, when an app
    could not be read or something is blocked: plan is the pre-flight check, so a green plan must mean
    rotate can work."""
    runtime = runtime_for(apps)
    results = [_run(runtime, "rotate", dry_run=True), _run(runtime, "revoke", dry_run=True)]
    if as_json:
        emit_document(
            {
                "jobs": [
                    {
                        "job": r.job,
                        "failed": r.failed,
                        "apps": [
                            {"app": a.app, "planned": [planned(p) for p in a.planned], "errors": a.state.errors}
                            for a in r.apps
                        ],
                    }
                    for r in results
                ]
            }
        )
    else:
        for result in results:
            report(result, False)
        for line in dict.fromkeys(line.replace(f"{r.job}: ", "plan: ", 1) for r in results for line in _problems(r)):
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(Exit.FAILED if any(r.failed for r in results) else Exit.OK)


@guarded
def rotate(
    apps: AppOpt = None,
    slot: Annotated[str | None, typer.Option(help="with --app and --now")] = None,
    now: Annotated[bool, typer.Option("--now", help="rotate --slot now, due or not")] = False,
    as_json: JsonOpt = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="with --now (required): why, for the audit trail")
    ] = None,
) -> None:
    """Mint, stage, verify and promote new tokens for every due slot."""
    forced: list[tuple[str, str]] = []
    if now or slot or reason:
        if not (now and slot and apps and len(apps) == 1):
            raise UserError("--now: got an incomplete request, expected --app APP --slot SLOT --now together")
        forced = [(apps[0], slot)]
        reason = check_reason(reason, required=True)
    runtime = runtime_for(apps)
    if forced and not any(s.slot == slot for a in runtime.apps for s in a.slots):
        raise UserError(f"--slot: got {slot!r}, expected a slot declared for app {apps[0]!r}")  # type: ignore[index]
    if not forced:
        raise typer.Exit(report(_run(runtime, "rotate"), as_json))
    app, name = forced[0]
    result, errors = manual.recorded(
        runtime,
        "rotate-now",
        app,
        lambda: _run(runtime, "rotate", forced=forced),
        reason=str(reason),
        slot=name,
        describe=manual.rotation_outcome(name),
    )
    code = report(result, as_json)
    manual.unrecorded("rotate --now", errors)
    raise typer.Exit(code)


@guarded
def revoke(apps: AppOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke superseded tokens past their grace period, expired managed tokens and orphans."""
    raise typer.Exit(report(_run(runtime_for(apps), "revoke"), as_json))


@guarded
def run(
    apps: AppOpt = None,
    as_json: JsonOpt = False,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="audit threshold (default: ROTATION_FAIL_ON)")
    ] = None,
) -> None:
    """rotate, then revoke, then audit: one full cycle (what the timers do)."""
    settings = Settings.from_env()
    threshold = cli_audit.check_fail_on(fail_on, settings)
    try:
        runtime = runtime_for(apps)
    except PolicyError:  # nothing rotated or revoked; the audit records why (fail closed), exit 2
        cli_audit.audit_or_record(settings, apps, fail_on=threshold, out=None, formats=list(FORMATS))
        raise
    results = [_run(runtime, "rotate"), _run(runtime, "revoke")]
    runtime.close()
    audit = cli_audit.audit_or_record(settings, apps, fail_on=threshold, out=None, formats=list(FORMATS))
    if as_json:
        emit_document(
            {
                "jobs": [
                    *({"job": r.job, "failed": r.failed, "apps": [_app_json(a) for a in r.apps]} for r in results),
                    {
                        "job": "audit",
                        "run_dir": str(audit.run_dir),
                        "exit_code": audit.exit_code,
                        "open_by_severity": audit.counts,
                        "resolved": [e.uid for e in audit.report.diff.resolved],
                        "new": [e.uid for e in audit.report.diff.new],
                    },
                ]
            }
        )
    else:
        for result in results:
            report(result, False)
        cli_audit.show_run(audit, False)
    failed = any(r.failed for r in results) or audit.failed
    raise typer.Exit(Exit.FAILED if failed else audit.exit_code)


@guarded
def simulate_(
    days: Annotated[int, typer.Option(min=1, max=3650)] = 365, apps: AppOpt = None, as_json: JsonOpt = False
) -> None:
    """Run the pure planner over DAYS of policy: every mint, promotion and revocation; overlap and gaps."""
    specs, _ = load_app_specs(Settings.from_env())
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    reports = {
        spec.name: simulate(spec, start, days, roles=admin.simulated_roles(spec)) for spec in select_apps(specs, apps)
    }
    if as_json:
        emit_document({"apps": reports})
    else:
        for name, sim in reports.items():
            table(
                f"{name}: {days} days",
                ("slot", "mints", "revocations", "min overlap", "gaps"),
                [
                    (
                        slot,
                        sum(1 for e in sim.events if e.slot == slot and e.kind == "mint+promote"),
                        sum(1 for e in sim.events if e.slot == slot and e.kind == "revoke"),
                        sim.min_overlap.get(slot, "-"),
                        len(sim.gaps.get(slot, [])),
                    )
                    for slot in sorted(sim.gaps)
                ],
            )
    raise typer.Exit(Exit.OK if all(r.ok for r in reports.values()) else Exit.FAILED)


COMMANDS: dict[str, Callable[..., None]] = {
    "plan": plan,
    "rotate": rotate,
    "revoke": revoke,
    "run": run,
    "simulate": simulate_,
}


def register(app: typer.Typer) -> None:
    for name, command in COMMANDS.items():
        app.command(name, epilog=epilog(name))(command)
