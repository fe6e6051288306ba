"""`rotation audit` and `rotation report diff`: the security team's view of every application's tokens.

The audit changes nothing in Azure. It writes a run folder (OCSF, SARIF, HTML, CSV, Markdown), prints the
open findings, and exits 0 (nothing at or above --fail-on), 1 (open findings at or above it), 2 (invalid
input: the run folder still records why the audit could not run) or 3 (incomplete audit or failed upload).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rotation.audit.report.baseline import comparable
from rotation.audit.report.files import FORMATS, load_coverage, load_entries
from rotation.audit.report.model import Diff, DiffEntry, compute_diff
from rotation.audit.run import AuditRun, record_policy_error, run_audit
from rotation.cli.examples import epilog
from rotation.cli.jsonout import emit_document
from rotation.cli.output import Exit, console, err_console, guarded, progress_bar, table, tls_cause
from rotation.cli.tables import Col
from rotation.domain.model import AppSpec, IottlyAppSpec
from rotation.domain.severity import SEVERITIES
from rotation.errors import PolicyError, UserError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs

report_app = typer.Typer(help="Work with stored audit runs.", no_args_is_help=True)

AppOpt = Annotated[list[str] | None, typer.Option("--app", help="only these apps (repeatable)")]
TABLE_OPEN = 200  # open findings printed (worst first); --json and the run folder hold them all
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def check_fail_on(value: str | None, settings: Settings) -> str:
    chosen = value or settings.fail_on
    if chosen not in SEVERITIES:
        raise UserError(f"--fail-on: got {chosen!r}, expected one of {', '.join(SEVERITIES)}")
    return chosen


def _formats(values: list[str] | None) -> list[str]:
    chosen = [v.strip() for value in values or ["all"] for v in value.split(",") if v.strip()]
    if "all" in chosen:
        return list(FORMATS)
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown:
        raise UserError(f"--format: got {', '.join(map(repr, unknown))}, expected any of {', '.join(FORMATS)} or all")
    return chosen


def select(
    names: list[str] | None, apps: list[AppSpec], iottly: list[IottlyAppSpec]
) -> tuple[list[AppSpec], list[IottlyAppSpec]]:
    if not names:
        return apps, iottly
    known = [a.name for a in apps] + [a.name for a in iottly]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"--app: got {', '.join(map(repr, unknown))}, expected one of: {', '.join(known) or 'none'}")
    return [a for a in apps if a.name in names], [a for a in iottly if a.name in names]


def audit_runtime(settings: Settings, names: list[str] | None) -> Runtime:
    apps, iottly = load_app_specs(settings)
    chosen, chosen_iottly = select(names, apps, iottly)
    return Runtime(settings, chosen, iottly_apps=chosen_iottly)


def show_run(run: AuditRun, as_json: bool) -> None:
    if as_json:
        emit_document(_run_document(run))
        return
    report = run.report
    shown = report.open_findings[:TABLE_OPEN]
    table(
        f"audit {report.run_id}: open findings (fail on {run.fail_on} and above)",
        ("severity", "status", "control", "resource", "finding"),
        [(f.severity, f.status, f.control_id, f"{f.app}/{f.resource}", f.message) for f in shown],
    )
    if len(report.open_findings) > len(shown):
        more = len(report.open_findings) - len(shown)
        console.print(f"… and {more} more open findings (worst first above; all in the run folder)", markup=False)
    counts = ", ".join(f"{n} {s}" for s, n in run.counts.items() if n) or "none open"
    diff = report.diff
    since = (
        f"since {diff.previous_run}: {len(diff.new)} new, {len(diff.resolved)} resolved, "
        f"{len(diff.unchanged)} unchanged"
        if diff.previous_run
        else "no previous run to compare with"
    )
    console.print(f"{counts}; {since}", markup=False, highlight=False)
    console.print(f"reports: {run.run_dir}", markup=False, highlight=False)
    if run.published:
        console.print(f"published {len(run.published)} blobs under runs/{report.run_id}/", markup=False)
    _show_problems(run)


def _run_document(run: AuditRun) -> dict[str, object]:
    """The --json document of one audit run (its schema is checked by the e2e JSON schema tests). Its
    findings are the open ones, worst first (every finding is in the run folder's OCSF file and CSV)."""
    report = run.report
    return {
        "run_id": report.run_id,
        "run_dir": str(run.run_dir),
        "exit_code": run.exit_code,
        "complete": report.complete,
        "open_by_severity": run.counts,
        "fail_on": run.fail_on,
        "diff": {
            "previous_run": report.diff.previous_run,
            "new": [e.uid for e in report.diff.new],
            "resolved": [e.uid for e in report.diff.resolved],
            "unchanged": [e.uid for e in report.diff.unchanged],
        },
        "published": run.published,
        "upload_error": run.upload_error,
        "findings": [
            {
                "uid": f.uid,
                "control": f.control_id,
                "severity": f.severity,
                "status": f.status,
                "app": f.app,
                "resource": f.resource,
                "message": f.message,
                "evidence": dict(f.evidence),
            }
            for f in report.open_findings
        ],
    }


def _show_problems(run: AuditRun) -> None:
    """On stderr: why the audit is incomplete (named once, e.g. an untrusted TLS chain) and a failed upload."""
    report = run.report
    if not report.complete:
        texts = (" ".join([f.message, *map(str, f.evidence.values())]) for f in report.errors)
        cause = next((c for c in map(tls_cause, texts) if c), None)
        err_console.print(
            f"audit incomplete (fail closed): {len(report.errors)} part(s) could not be read"
            + (f": {cause}" if cause else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if run.upload_error:
        err_console.print(
            f"error: upload failed, the local copy is kept: {run.upload_error}", markup=False, highlight=False
        )


def audit_or_record(
    settings: Settings, names: list[str] | None, *, fail_on: str, out: Path | None, formats: list[str]
) -> AuditRun:
    """Runs the audit; an invalid policy is recorded as a run that says so, then re-raised (exit 2)."""
    try:
        runtime = audit_runtime(settings, names)
    except PolicyError as exc:
        run = record_policy_error(Runtime(settings, []), str(exc), fail_on=fail_on, out_dir=out, formats=formats)
        raise PolicyError([*str(exc).splitlines(), f"(recorded as a failed audit in {run.run_dir})"]) from None
    try:
        with progress_bar("audit", len(runtime.apps) + len(runtime.iottly_apps)) as advance:
            return run_audit(
                runtime, fail_on=fail_on, out_dir=out, formats=formats, on_app_done=advance, scoped=bool(names)
            )
    finally:
        runtime.close()


@guarded
def audit(
    apps: AppOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="folder for run folders (default: ROTATION_REPORTS_DIR)")
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="ocsf, sarif, html, csv, md or all (repeatable or comma-separated; OCSF always)"),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="critical, high, medium, low or info (default: ROTATION_FAIL_ON or high)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Audit every application's tokens and keys against the policies; write reports; changes nothing."""
    settings = Settings.from_env()
    threshold = check_fail_on(fail_on, settings)
    run = audit_or_record(settings, apps, fail_on=threshold, out=out, formats=_formats(fmt))
    show_run(run, as_json)
    raise typer.Exit(run.exit_code)


def _diff_rows(diff: Diff) -> list[tuple[str, str, str, str, str]]:
    groups: list[tuple[str, tuple[DiffEntry, ...]]] = [
        ("new", diff.new),
        ("resolved", diff.resolved),
        ("unchanged", diff.unchanged),
    ]
    return [(change, e.severity, e.status, e.uid, e.message) for change, entries in groups for e in entries]


@report_app.command("diff", epilog=epilog("report diff"))
@guarded
def diff_runs(
    old: Annotated[Path, typer.Argument(help="older run folder (or its audit.ocsf.json)")],
    new: Annotated[Path, typer.Argument(help="newer run folder (or its audit.ocsf.json)")],
    as_json: JsonOpt = False,
) -> None:
    """Compare two stored audit runs: open findings that are new, resolved or unchanged. When either run
    was scoped (`rotation audit --app`), only the applications both runs covered are compared."""
    old_id, old_entries = load_entries(old, "OLD")
    new_id, new_entries = load_entries(new, "NEW")
    apps, old_entries, new_entries = comparable(
        load_coverage(old, "OLD"), load_coverage(new, "NEW"), old_entries, new_entries
    )
    diff = compute_diff(old_entries, new_entries, old_id)
    if as_json:
        emit_document(
            {
                "old": old_id,
                "new": new_id,
                "new_findings": diff.new,
                "resolved": diff.resolved,
                "unchanged": diff.unchanged,
            }
        )
    else:
        table(
            f"{old_id} → {new_id}: {len(diff.new)} new, {len(diff.resolved)} resolved, {len(diff.unchanged)} unchanged",
            ("change", "severity", "status", Col("finding", "id"), "message"),
            _diff_rows(diff),
        )
        if apps is not None:
            shown = ", ".join(sorted(a for a in apps if a != "-")) or "none"
            console.print(f"scoped: compared only the apps both runs covered: {shown}", markup=False)
    raise typer.Exit(Exit.OK)
