"""The self-contained HTML report (jinja2 macros, inline CSS and SVG, no script, no external URL), written as
the findings stream by, one application at a time (issue 14: a 1,000-app fleet must not be one string).

The summary comes first on the page but is known only at the end, so application sections are written as
they come (to a temporary file for a small fleet, to their own pages for a large one) and the page that
carries the summary is written last:
- up to `INLINE_APPS` applications and `INLINE_TOKENS` listed tokens (known before the first finding is
  judged; ~6 findings a token): one page, `audit.html`: summary, then one collapsed section (`<details>`,
  open when the app has open findings) per application, in the audit's order (policy order);
- more: `audit.html` is an index (summary, a table of every application with its counts linking to its page,
  the first `INDEX_OPEN` open findings, worst first) and `apps/<name>.html` holds one page per application.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from rotation import __version__
from rotation.audit.controls import CATALOG
from rotation.audit.findings import Finding
from rotation.audit.report.model import AppTally, AuditReport
from rotation.audit.report.timeline import WIDTH, Timeline, app_timeline
from rotation.domain.severity import SEVERITIES, Severity, severity_rank

INLINE_APPS = 25  # a fleet of more applications gets an index page and a page per application
INLINE_TOKENS = 2000  # ... and so does a fleet listing more tokens than this
INDEX_OPEN = 200  # open findings listed on the index page (the rest: "and N more")
APPS_DIR = "apps"

ENV = Environment(
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
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,80}")


@dataclass
class AppView:
    """One application's section: its findings exist only while the section is written."""

    name: str
    provider: str
    open: list[Finding] = field(default_factory=list)
    passed: list[Finding] = field(default_factory=list)
    timeline: Timeline | None = None

    @property
    def counts(self) -> dict[Severity, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in self.open:
            counts[finding.severity] += 1
        return counts


@dataclass(frozen=True)
class AppRow:
    """An application in the summary's links and the index table."""

    name: str
    provider: str
    href: str
    tally: AppTally

    @property
    def open_total(self) -> int:
        return self.tally.open_total

    @property
    def worst(self) -> str:
        return next((s for s in SEVERITIES if self.tally.open[s]), "info")


def page_name(app: str, taken: set[str]) -> str:
    """A file name for an application's page: the name itself when it is plainly safe (letters, digits,
    `-`, `_`), else (or when it collides, case-insensitively) a digest of it; `-` is `policies`."""
    base = "policies" if app == "-" else app
    if not _SAFE.fullmatch(base) or base.casefold() in taken:
        base = f"app-{hashlib.sha256(app.encode()).hexdigest()[:16]}"
    taken.add(base.casefold())
    return f"{base}.html"


def by_control(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for finding in findings:
        control = finding.control
        row = rows.setdefault(
            control.id,
            {"id": control.id, "title": control.title, "severity": control.severity, "open": 0, "apps": set()},
        )
        row["open"] += 1
        row["apps"].add(finding.app)
    ordered = sorted(rows.values(), key=lambda r: (severity_rank(r["severity"]), r["id"]))
    return [{**row, "apps": sorted(row["apps"])} for row in ordered]


class HtmlWriter:
    """`audit.html` (and `apps/*.html` for a large fleet), fed one application's findings at a time."""

    def __init__(self, file: IO[str], report: AuditReport) -> None:
        self._file, self._report = file, report
        self._run_dir = Path(file.name).parent
        self._specs = {a.name: a for a in report.policies.apps}
        self._providers = {a.name: "IoT Central" for a in report.policies.apps}
        self._providers.update({a.name: "iottly (keys rotated by hand)" for a in report.policies.iottly})
        tokens = sum(len(state.tokens or ()) for state in report.observed.apps.values())
        self.large = len(self._providers) > INLINE_APPS or tokens > INLINE_TOKENS
        state: Callable[[Finding], str | None] = report.state_of if report.previous_run else (lambda _: None)
        self._macros: Any = ENV.get_template("audit.html.j2").make_module(
            {
                "severities": SEVERITIES,
                "width": WIDTH,
                "bar_style": BAR_STYLE,
                "controls": CATALOG,
                "version": __version__,
                "state": state,
            }
        )
        self._hrefs: dict[str, str] = {}
        self._taken: set[str] = set()
        self._sections = None if self.large else tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def _view(self, app: str, findings: Sequence[Finding]) -> AppView:
        provider = self._providers.get(app, "policies" if app == "-" else "unknown")
        view = AppView(app, provider)
        for finding in findings:
            (view.open if finding.open else view.passed).append(finding)
        spec = self._specs.get(app)
        state = self._report.observed.apps.get(app)
        if spec is not None and state is not None and state.tokens is not None:
            view.timeline = app_timeline(spec, state, self._report.generated_at)
        return view

    def add(self, app: str, findings: Sequence[Finding]) -> None:
        view = self._view(app, findings)
        if self._sections is not None:
            self._hrefs[app] = f"#app-{app}"
            self._sections.write(str(self._macros.section(view, True)))
            return
        name = page_name(app, self._taken)
        self._hrefs[app] = f"{APPS_DIR}/{name}"
        folder = self._run_dir / APPS_DIR
        folder.mkdir(exist_ok=True)
        with (folder / name).open("w", encoding="utf-8") as page:
            page.write(str(self._macros.head(f"{app} · API token audit {self._report.run_id}")))
            page.write(
                f'<p class="meta"><a href="../audit.html">← audit summary</a> · run '
                f"<code>{self._report.run_id}</code></p>\n"
            )
            page.write(str(self._macros.section(view, False)))
            page.write(str(self._macros.tail("../audit.html")))

    def _rows(self, report: AuditReport) -> list[AppRow]:
        rows = [
            AppRow(app, self._providers.get(app, "policies" if app == "-" else "unknown"), href, report.tally.apps[app])
            for app, href in self._hrefs.items()
        ]
        return sorted(rows, key=lambda r: (r.tally.worst, r.name))

    def close(self, report: AuditReport) -> None:
        rows, write = self._rows(report), self._file.write
        generated = report.generated_at.strftime("%Y-%m-%d %H:%M")
        write(str(self._macros.head(f"API token audit · {generated} UTC")))
        write(str(self._macros.summary(report, rows, self.large, by_control(report.open_findings))))
        if self._sections is not None:
            self._sections.seek(0)
            shutil.copyfileobj(self._sections, self._file)
            self._sections.close()
        else:
            shown = report.open_findings[:INDEX_OPEN]
            write(str(self._macros.index(rows, shown, len(report.open_findings) - len(shown))))
        write(str(self._macros.tail()))
