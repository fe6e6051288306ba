"""Renders a run to text: the self-contained HTML page (jinja2, inline CSS and SVG, no script, no external
URL), the CSV for spreadsheets and the Markdown summary for tickets and chat."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from rotation import __version__
from rotation.audit.controls import CATALOG
from rotation.audit.findings import Finding
from rotation.audit.report.model import AuditReport
from rotation.audit.report.timeline import WIDTH, Timeline, app_timeline
from rotation.domain.severity import SEVERITIES, Severity, severity_rank

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(disabled_extensions=("md.j2",), default=True),  # Markdown not escaped
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
BAR_STYLE = {
    "active": 'fill="#38a169"',
    "grace": 'fill="#ecc94b"',
    "future": 'fill="#c6f6d5" stroke="#38a169" stroke-dasharray="3 2"',
    "expired-listed": 'fill="#fc8181"',
    "unmanaged": 'fill="#b794f4"',
    "orphan": 'fill="#ffffff" stroke="#e53e3e" stroke-width="2"',
}


@dataclass
class AppView:
    name: str
    provider: str
    open: list[Finding] = field(default_factory=list)
    passed: list[Finding] = field(default_factory=list)
    timeline: Timeline | None = None

    @property
    def counts(self) -> dict[Severity, int]:
        counts = Counter(f.severity for f in self.open)
        return {s: counts.get(s, 0) for s in SEVERITIES}


def _apps(report: AuditReport) -> list[AppView]:
    views = {spec.name: AppView(spec.name, "IoT Central") for spec in report.policies.apps}
    views.update({spec.name: AppView(spec.name, "iottly (keys rotated by hand)") for spec in report.policies.iottly})
    for spec in report.policies.apps:
        state = report.observed.apps.get(spec.name)
        if state is not None and state.tokens is not None:
            views[spec.name].timeline = app_timeline(spec, state, report.generated_at)
    for finding in report.findings:
        view = views.setdefault(finding.app, AppView(finding.app, "policies" if finding.app == "-" else "unknown"))
        (view.open if finding.open else view.passed).append(finding)
    return sorted(views.values(), key=lambda v: (min((severity_rank(f.severity) for f in v.open), default=9), v.name))


def _by_control(report: AuditReport) -> list[dict[str, Any]]:
    rows = []
    for control in CATALOG:
        hits = [f for f in report.findings if f.control_id == control.id and f.open]
        if hits:
            rows.append(
                {
                    "id": control.id,
                    "title": control.title,
                    "severity": control.severity,
                    "open": len(hits),
                    "apps": sorted({f.app for f in hits}),
                }
            )
    return sorted(rows, key=lambda r: (severity_rank(r["severity"]), r["id"]))


def render_html(report: AuditReport) -> str:
    counts = report.open_counts()
    return _ENV.get_template("audit.html.j2").render(
        report=report,
        apps=_apps(report),
        counts=counts,
        severities=SEVERITIES,
        open_total=sum(counts.values()),
        manual=sum(1 for f in report.findings if f.status == "MANUAL"),
        passed=sum(1 for f in report.findings if not f.open),
        by_control=_by_control(report),
        diff_state=report.diff.uids if report.diff.previous_run else {},
        controls=CATALOG,
        width=WIDTH,
        bar_style=BAR_STYLE,
        version=__version__,
    )


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


def render_csv(report: AuditReport) -> str:
    states = report.diff.uids
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.findings:
        change = states.get(f.uid, "") if f.open else ""
        writer.writerow(
            [
                report.run_id,
                f.status,
                f.severity,
                f.control_id,
                f.control.title,
                f.app,
                f.resource_type,
                f.resource,
                f.message,
                json.dumps(dict(f.evidence), sort_keys=True),
                f.control.remediation,
                change,
            ]
        )
    return out.getvalue()


def render_summary(report: AuditReport) -> str:
    counts = report.open_counts()
    return _ENV.get_template("summary.md.j2").render(
        report=report,
        counts=counts,
        severities=SEVERITIES,
        by_control=_by_control(report),
        open_findings=[f for f in report.findings if f.open],
    )
