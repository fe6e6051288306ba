"""The CSV for spreadsheets (every finding, a row each, written as they stream by) and the Markdown summary
for tickets and chat (bounded: counts and the first `SUMMARY_OPEN` open findings, worst first)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO

from rotation.audit.findings import Finding
from rotation.audit.report.model import AuditReport
from rotation.audit.report.render import ENV, by_control
from rotation.domain.severity import SEVERITIES

SUMMARY_OPEN = 100  # open findings listed in summary.md; the rest are counted ("and N more")
CSV_COLUMNS = (
    "run_id",
    "status",
    "severity",
    "control",
    "title",
    "app",
    "resource_type",
    "resource",
    "message",
    "evidence",
    "remediation",
    "change",
)


class CsvWriter:
    """`audit.csv`: the header, then a row per finding in the audit's order (per application)."""

    def __init__(self, file: IO[str], report: AuditReport) -> None:
        self._report = report
        self._rows = csv.writer(file, lineterminator="\n")
        self._rows.writerow(CSV_COLUMNS)

    def add(self, app: str, findings: Iterable[Finding]) -> None:
        run_id, state_of = self._report.run_id, self._report.state_of
        for f in findings:
            control = f.control
            self._rows.writerow(
                [
                    run_id,
                    f.status,
                    f.severity,
                    f.control_id,
                    control.title,
                    f.app,
                    f.resource_type,
                    f.resource,
                    f.message,
                    json.dumps(dict(f.evidence), sort_keys=True),
                    control.remediation,
                    state_of(f) or "",
                ]
            )

    def close(self, report: AuditReport) -> None:
        """Every row is written already."""


class SummaryWriter:
    """`summary.md`, written at the end from the kept open findings and counters only."""

    def __init__(self, file: IO[str], report: AuditReport) -> None:
        self._file = file

    def add(self, app: str, findings: Iterable[Finding]) -> None:
        """Nothing to write before the counts are known."""

    def close(self, report: AuditReport) -> None:
        shown = report.open_findings[:SUMMARY_OPEN]
        for chunk in ENV.get_template("summary.md.j2").generate(
            report=report,
            counts=report.open_counts(),
            severities=SEVERITIES,
            by_control=by_control(report.open_findings),
            open_findings=shown,
            more=len(report.open_findings) - len(shown),
        ):
            self._file.write(chunk)
