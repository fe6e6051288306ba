"""One audit run as the reports see it, and its diff against the previous run.

The diff keys on a finding's uid (control + app + resource): *new* are open (FAIL/MANUAL) now and were
not open before, *resolved* were open before and are not now (passing, or the resource is gone),
*unchanged* are open in both. The previous run is read back from its OCSF file, so any stored run can
be compared with any other (`rotation report diff OLD NEW`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rotation.audit.evaluate import Observed, Policies
from rotation.audit.findings import Finding
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


@dataclass(frozen=True)
class AuditReport:
    run_id: str
    generated_at: datetime
    findings: Sequence[Finding]
    observed: Observed
    policies: Policies
    diff: Diff = field(default_factory=lambda: Diff(None))
    coverage: Coverage = field(default_factory=lambda: Coverage(frozenset(), full=True))
    locations: dict[str, Location] = field(default_factory=dict)  # rotation.audit.report.locations

    def open_counts(self) -> dict[Severity, int]:
        counts: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            if finding.open:
                counts[finding.severity] += 1
        return counts

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def complete(self) -> bool:
        return not self.errors
