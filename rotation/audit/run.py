"""The audit job: gather what is (read-only), judge it (`rotation.audit.evaluate`), write the run folder,
diff it against the previous run, publish it to Blob Storage when configured.

Gathering never changes anything: token listings and vault version properties, a verification call
with each slot's current token and an iottly ping with each key. Whatever cannot be read becomes an
AUDIT-001 finding (fail closed). Exit codes: 0 nothing at or above `fail_on`, 1 open findings at or
above it, 3 the audit is incomplete or its upload failed (the local copy is kept either way).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from rotation.audit.evaluate import Observed, PoisonNote, Policies, evaluate_apps
from rotation.audit.fanout import fanout_findings
from rotation.audit.findings import Finding, policy_error
from rotation.audit.ports import AuditRuntime, ReportStore
from rotation.audit.report.baseline import MANIFEST_FILE, POLICIES_APP, Baseline, BlobRuns, LocalRuns, prune, select
from rotation.audit.report.files import FORMATS, OCSF_FILE, load_entries, write_run
from rotation.audit.report.locations import Location, declared, location_map
from rotation.audit.report.model import AuditReport, Coverage, DiffEntry
from rotation.audit.report.ocsf import event_finding, iter_events, parse_lines, read_entries
from rotation.domain.events import WINDOW, ManualEvent
from rotation.domain.model import AppSpec, AppState, IottlyAppSpec, KeyCheck, SlotState, VerifyCheck
from rotation.domain.severity import SEVERITIES, at_or_above
from rotation.engine.jobs import reads_pool
from rotation.engine.observe import observe_app
from rotation.errors import RotationError, UserError

T = TypeVar("T")

log = logging.getLogger("rotation.audit")


@dataclass
class AuditRun:
    report: AuditReport
    run_dir: Path
    fail_on: str
    published: list[str] = field(default_factory=list)
    upload_error: str | None = None

    @property
    def open_findings(self) -> list[Finding]:
        """The open findings (FAIL and MANUAL), worst first: all the run keeps in memory (issue 14)."""
        return self.report.open_findings

    def all_findings(self) -> list[Finding]:
        """Every finding, PASS included, read back from the run's OCSF file (for tests and small runs: the
        audit itself never holds them all)."""
        return [event_finding(e) for e in iter_events(self.run_dir / OCSF_FILE)]

    @property
    def counts(self) -> dict[str, int]:
        """Open findings (FAIL and MANUAL) by severity."""
        return {str(severity): count for severity, count in self.report.open_counts().items()}

    @property
    def over_threshold(self) -> list[Finding]:
        return [f for f in self.open_findings if at_or_above(f.severity, self.fail_on)]

    @property
    def failed(self) -> bool:
        """The audit itself did not complete (unreadable state, invalid policy, failed upload)."""
        return not self.report.complete or self.upload_error is not None

    @property
    def exit_code(self) -> int:
        if self.failed:
            return 3
        return 1 if self.over_threshold else 0


def _observe_app(runtime: AuditRuntime, app: AppSpec, reads: Executor | None) -> tuple[AppState, list[VerifyCheck]]:
    """Read-only; whatever fails (ours or not) becomes an incomplete state, so the audit records AUDIT-001
    for the app instead of raising (its fail-closed promise). `reads`: the job's inner pool
    (`rotation.engine.jobs.reads_pool`), so an app's listings and checks run side by side as rotate's do."""
    try:
        iotc, vault = runtime.iotcentral(app), runtime.vault(app.vault)
        state = observe_app(app, iotc, vault, verify_current=True, pool=reads)
    except Exception as exc:  # noqa: BLE001 -- fail closed: any failure is an incomplete observation
        return AppState(app.name, None, vault_complete=False, errors=(f"{type(exc).__name__}: {exc}",)), []
    return state, list(state.checks.values())


def _check_keys(runtime: AuditRuntime, app: IottlyAppSpec) -> list[KeyCheck]:
    checks = []
    for key in app.keys:
        try:
            vault = runtime.vault(app.vault)
            versions = tuple(vault.list_versions(key.secret))
        except Exception as exc:  # noqa: BLE001 -- fail closed: recorded as an unchecked key, never raised
            checks.append(KeyCheck(app.name, key.slot, key.secret, (), valid=None, error=str(exc)))
            continue
        current = SlotState(versions).current
        if current is None:
            checks.append(KeyCheck(app.name, key.slot, key.secret, versions, valid=None))
            continue
        try:
            valid = runtime.iottly(app.base_url).ping(vault.get_value(key.secret, current.version))
            checks.append(KeyCheck(app.name, key.slot, key.secret, versions, valid=valid))
        except Exception as exc:  # noqa: BLE001 -- fail closed: recorded as an unchecked key, never raised
            checks.append(KeyCheck(app.name, key.slot, key.secret, versions, valid=None, error=str(exc)))
    return checks


def _poison(runtime: AuditRuntime) -> tuple[list[PoisonNote] | None, str | None]:
    """Apps the queue fan-out gave up on (only when ROTATION_FANOUT=queue): (notes, read error)."""
    if runtime.settings.fanout != "queue":
        return None, None
    try:
        return [PoisonNote(e.app, e.job, e.count) for e in runtime.poison_entries()], None
    except RotationError as exc:
        return None, str(exc)


def gather(
    runtime: AuditRuntime,
    poison: Sequence[PoisonNote] | None = None,
    on_app_done: Callable[[str], None] = lambda _: None,
) -> Observed:
    """Everything the audit judges, read with bounded concurrency; never raises for one app's failure.
    `on_app_done(name)` after each app (IoT Central or iottly) is read: the CLI's progress bar."""

    def done(name: str, result: T) -> T:
        on_app_done(name)
        return result

    concurrency = runtime.settings.max_concurrency
    with reads_pool(concurrency, "audit") as reads, ThreadPoolExecutor(concurrency, "audit") as pool:
        apps = list(pool.map(lambda app: done(app.name, _observe_app(runtime, app, reads)), runtime.apps))
        keys = [
            c
            for checks in pool.map(lambda app: done(app.name, _check_keys(runtime, app)), runtime.iottly_apps)
            for c in checks
        ]
    poison_error = None
    if poison is None:
        poison, poison_error = _poison(runtime)
    manual, manual_error = _manual(runtime)
    return Observed(
        apps={state.name: state for state, _ in apps},
        verify=[c for _, checks in apps for c in checks],
        keys=keys,
        poison=poison,
        poison_error=poison_error,
        manual_events=manual,
        manual_error=manual_error,
    )


def _manual(runtime: AuditRuntime) -> tuple[list[ManualEvent] | None, str | None]:
    """Manual actions of the audited apps within `WINDOW` (`rotation.audit.manual`): (events, read error)."""
    try:
        return list(runtime.manual_events(runtime.now() - WINDOW)), None
    except RotationError as exc:
        return None, str(exc)


def run_id_for(moment: datetime) -> str:
    """Run folders and blob prefixes sort by time: the previous run is the greatest smaller id."""
    return f"{moment:%Y%m%dT%H%M%S.%fZ}"


def _baseline(store: ReportStore | None, root: Path, report: AuditReport, current: list[DiffEntry]) -> Baseline | None:
    """Per app, the newest earlier run that covered it (`rotation.audit.report.baseline`): from Blob Storage
    when configured (a Functions worker's disk is fresh), else the local run folders. An unreadable store is
    logged; the upload that follows reports the failure."""
    covered = report.coverage.apps
    if store is not None:
        try:
            found = select(BlobRuns(store, OCSF_FILE, read_entries, parse_lines), report.run_id, covered, current)
            if found is not None:
                return found
        except (RotationError, ValueError, KeyError, TypeError) as exc:
            log.warning("previous audit run not readable from blob storage, using the local one: %s", exc)
    try:
        return select(LocalRuns(root, OCSF_FILE, _local_entries), report.run_id, covered, current)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{root}: got a run folder whose {MANIFEST_FILE} is not an audit manifest, expected the "
            f"one the audit writes ({exc})"
        ) from None


def _local_entries(run_dir: Path) -> list[DiffEntry]:
    return load_entries(run_dir, "previous run")[1]


def _publish(store: ReportStore, run: AuditRun) -> None:
    try:
        run.published = store.publish(run.run_dir)
    except RotationError as exc:
        run.upload_error = str(exc)
        log.error("audit upload failed (local copy kept in %s): %s", run.run_dir, exc)  # noqa: TRY400


def _log_findings(run: AuditRun) -> None:
    """One structured line per open finding: what the high-severity alert rule in Azure Monitor queries."""
    for finding in run.open_findings:
        log.info(
            "audit_finding control=%s severity=%s status=%s app=%s resource=%s",
            finding.control_id,
            finding.severity,
            finding.status,
            finding.app,
            finding.resource,
        )
    log.info(
        "audit_summary run=%s open=%s exit=%s",
        run.report.run_id,
        " ".join(f"{s}:{n}" for s, n in run.counts.items()),
        run.exit_code,
    )


def run_audit(
    runtime: AuditRuntime,
    *,
    fail_on: str | None = None,
    out_dir: Path | None = None,
    formats: Sequence[str] = FORMATS,
    poison: Sequence[PoisonNote] | None = None,
    on_app_done: Callable[[str], None] = lambda _: None,
    scoped: bool = False,
) -> AuditRun:
    """`scoped`: the runtime holds only some declared apps (`--app`); the run then covers just those, is
    compared per app with the runs that covered them, and does not move `latest`."""
    fail_on = fail_on or runtime.settings.fail_on
    if fail_on not in SEVERITIES:
        raise ValueError(f"fail_on: got {fail_on!r}, expected one of {', '.join(SEVERITIES)}")
    root = out_dir or runtime.settings.reports_dir
    now = runtime.now()
    run_id = run_id_for(now)
    policies = Policies(runtime.apps, runtime.iottly_apps)
    observed = gather(runtime, poison, on_app_done)
    audited = [a.name for a in runtime.apps] + [a.name for a in runtime.iottly_apps]
    coverage = Coverage(frozenset([POLICIES_APP, *audited]), full=not scoped)
    report = AuditReport(run_id, now, observed, policies, coverage=coverage, locations=location_map(policies))
    uncovered = [  # what the run found about apps it did not cover (the fan-out queue names them)
        DiffEntry.of(f)
        for f in fanout_findings(observed.poison, observed.poison_error, [a.name for a in runtime.apps])
        if not coverage.covers(f.app)
    ]
    return _finish(runtime, report, evaluate_apps(observed, policies, now), uncovered, (root, formats, fail_on))


def record_policy_error(
    runtime: AuditRuntime,
    message: str,
    *,
    fail_on: str = "high",
    out_dir: Path | None = None,
    formats: Sequence[str] = FORMATS,
) -> AuditRun:
    """An invalid policy still produces a run folder that says the audit could not run (fail closed)."""
    now = runtime.now()
    report = AuditReport(
        run_id_for(now),
        now,
        Observed(apps={}),
        Policies([]),
        coverage=Coverage(frozenset([POLICIES_APP]), full=True),
        locations=_error_location(message),
    )
    return _finish(
        runtime, report, [[policy_error(message)]], [], (out_dir or runtime.settings.reports_dir, formats, fail_on)
    )


def _error_location(message: str) -> dict[str, Location]:
    """A policy error starts `file:line where: ...` (rotation.policy.loader): the SARIF result points there."""
    head = message.split(" ", 1)[0]
    path, _, line = head.rpartition(":")
    if not path or not line.isdigit() or not Path(path).is_file():
        return {}
    return {POLICIES_APP: declared((path, int(line)))}


def _prune(runtime: AuditRuntime, root: Path, report: AuditReport) -> None:
    """After a successful write only; a folder that cannot be removed is logged, never fails the audit."""
    keep = runtime.settings.reports_keep
    if keep is None:
        return
    try:
        removed = prune(LocalRuns(root, OCSF_FILE, _local_entries), keep, report.generated_at, report.run_id)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("audit retention: could not prune %s: %s", root, exc)
        return
    if removed:
        log.info("audit retention: removed %d run folder(s) from %s", len(removed), root)


def _finish(
    runtime: AuditRuntime,
    report: AuditReport,
    batches: Iterable[Sequence[Finding]],
    uncovered: list[DiffEntry],
    where: tuple[Path, Sequence[str], str],
) -> AuditRun:
    """The baseline first (so each finding is written knowing whether it is new), then one streamed pass
    of the findings into every format (`write_run`), then retention, publishing and the log lines."""
    root, formats, fail_on = where
    store = runtime.report_store()  # one client for reading the previous run and publishing this one
    try:
        baseline = _baseline(store, root, report, uncovered)
        if baseline is not None:
            report = replace(report, previous=baseline.entries, previous_run=baseline.newest, baselines=baseline.runs)
        run_dir, report = write_run(report, batches, root, formats)
        run = AuditRun(report, run_dir, fail_on)
        _prune(runtime, root, report)
        if store is not None:
            _publish(store, run)
    finally:
        if store is not None:
            store.close()
    _log_findings(run)
    return run
