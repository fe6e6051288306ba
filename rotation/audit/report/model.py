"""One audit run as the reports see it, and its diff against the previous run.

The diff keys on a finding's uid (control + app + resource): *new* are open (FAIL/MANUAL) now and were
not open before, *resolved* were open before and are not now (passing, or the resource is gone),
*unchanged* are open in both. The previous run is read back from its OCSF file, so any stored run can
be compared with any other (`rotation report diff OLD NEW`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rotation.audit.evaluate import Observed, Policies
from rotation.audit.findings import Finding, sort_key
from rotation.audit.report.locations import Location
from rotation.domain.severity import SEVERITIES, Severity, severity_rank


@dataclass(frozen=True)
class DiffEntry:
    uid: str
    control_id: str
    severity: str
    status: str
    title: str
    message: str

    @property
    def open(self) -> bool:
        return self.status != "PASS"

    @classmethod
    def of(cls, finding: Finding) -> DiffEntry:
        return cls(
            finding.uid, finding.control_id, finding.severity, finding.status, finding.control.title, finding.message
        )


@dataclass(frozen=True)
class Diff:
    previous_run: str | None
    new: tuple[DiffEntry, ...] = ()
    resolved: tuple[DiffEntry, ...] = ()
    unchanged: tuple[DiffEntry, ...] = ()
    baselines: Mapping[str, str] = field(default_factory=dict)  # app -> the run it was compared with

    @property
    def uids(self) -> dict[str, str]:
        """uid -> 'new' | 'unchanged' (open findings of the newer run)."""
        return {**{e.uid: "unchanged" for e in self.unchanged}, **{e.uid: "new" for e in self.new}}


def _order(entries: Iterable[DiffEntry]) -> tuple[DiffEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (severity_rank(e.severity), e.uid)))


def compute_diff(
    previous: Sequence[DiffEntry] | None, current: Sequence[DiffEntry], previous_run: str | None = None
) -> Diff:
    """With no previous run every open finding is new."""
    before = {e.uid: e for e in previous or () if e.open}
    now_open = {e.uid: e for e in current if e.open}
    return Diff(
        previous_run,
        new=_order(e for uid, e in now_open.items() if uid not in before),
        resolved=_order(e for uid, e in before.items() if uid not in now_open),
        unchanged=_order(e for uid, e in now_open.items() if uid in before),
    )


@dataclass(frozen=True)
class Coverage:
    """What one run looked at: `full` runs audited every declared app (and move `latest`)."""

    apps: frozenset[str]
    full: bool

    def covers(self, app: str) -> bool:
        return app in self.apps

    def document(self, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "scope": "full" if self.full else "apps", "apps": sorted(self.apps)}

    @classmethod
    def read(cls, document: Mapping[str, Any]) -> Coverage:
        """Raises KeyError/TypeError/ValueError on a document that is not a manifest."""
        scope = str(document["scope"])
        if scope not in ("full", "apps"):
            raise ValueError(f"scope: got {scope!r}, expected full or apps")
        return cls(frozenset(str(a) for a in document["apps"]), scope == "full")


@dataclass(slots=True)
class AppTally:
    """One app's counts for the summaries (the HTML index's per-app table)."""

    open: dict[Severity, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    passed: int = 0

    @property
    def open_total(self) -> int:
        return sum(self.open.values())

    @property
    def worst(self) -> int:
        return min((severity_rank(s) for s, n in self.open.items() if n), default=len(SEVERITIES))


@dataclass
class Tally:
    """What is kept of a streamed run (issue 14): the OPEN findings, and counters. PASS findings are
    counted and dropped, so memory is bounded by what is open, not by the fleet."""

    open: list[Finding] = field(default_factory=list)
    apps: dict[str, AppTally] = field(default_factory=dict)
    total: int = 0
    passed: int = 0
    manual: int = 0

    def add(self, finding: Finding) -> None:
        app = self.apps.get(finding.app)
        if app is None:
            app = self.apps[finding.app] = AppTally()
        self.total += 1
        if finding.open:
            self.open.append(finding)
            app.open[finding.severity] += 1
            self.manual += finding.status == "MANUAL"
        else:
            self.passed += 1
            app.passed += 1

    def sort(self) -> None:
        """The order a human reads the bounded lists in: open first, worst severity, app, uid."""
        self.open.sort(key=sort_key)


@dataclass(frozen=True)
class AuditReport:
    """One run. Made before the findings are streamed (`files.write_run` fills `tally` and `diff`): the
    writers then know, per finding, whether it is new (`state_of`), from the baseline's open uids."""

    run_id: str
    generated_at: datetime
    observed: Observed
    policies: Policies
    coverage: Coverage = field(default_factory=lambda: Coverage(frozenset(), full=True))
    locations: dict[str, Location] = field(default_factory=dict)  # rotation.audit.report.locations
    previous: tuple[DiffEntry, ...] | None = None  # the baseline's open entries; None: nothing to compare
    previous_run: str | None = None
    baselines: Mapping[str, str] = field(default_factory=dict)  # app -> the run it is compared with
    tally: Tally = field(default_factory=Tally)
    diff: Diff = field(default_factory=lambda: Diff(None))
    before: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "before", frozenset(e.uid for e in self.previous or () if e.open))

    def state_of(self, finding: Finding) -> str | None:
        """'new' or 'unchanged' for an open finding, None for a passing one."""
        if not finding.open:
            return None
        return "unchanged" if finding.uid in self.before else "new"

    def finished(self, tally: Tally) -> AuditReport:
        """The report once every finding went by: its tally and the diff of its open findings."""
        tally.sort()
        diff = compute_diff(self.previous, [DiffEntry.of(f) for f in tally.open], self.previous_run)
        return replace(self, tally=tally, diff=replace(diff, baselines=dict(self.baselines)))

    @property
    def open_findings(self) -> list[Finding]:
        return self.tally.open

    def open_counts(self) -> dict[Severity, int]:
        counts: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
        for app in self.tally.apps.values():
            for severity, n in app.open.items():
                counts[severity] += n
        return counts

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.tally.open if f.is_error]

    @property
    def complete(self) -> bool:
        return not self.errors
