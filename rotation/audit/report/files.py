"""A run folder on disk: every format written, then the `latest` pointer moved to it.

Layout: `<root>/<run-id>/{run.json, audit.ocsf.json, audit.sarif, audit.html, audit.csv, summary.md}` (and
`apps/<name>.html` for a large fleet: `rotation.audit.report.render`) and
`<root>/latest` (a symlink to the newest FULL run folder, replaced atomically; a `LATEST` file naming it where
symlinks are unavailable). A scoped run (`--app`) never moves `latest`: a reader of `latest` always sees every
app; per-app baselines come from the manifests (`rotation.audit.report.baseline`). The OCSF file and the
manifest `run.json` are always written: they are the run's record, read back for diffs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Protocol

from rotation.audit.findings import Finding
from rotation.audit.report.baseline import MANIFEST_FILE
from rotation.audit.report.model import AuditReport, Coverage, DiffEntry, Tally
from rotation.audit.report.ocsf import OcsfWriter, iter_events, read_entries
from rotation.audit.report.render import APPS_DIR, HtmlWriter
from rotation.audit.report.sarif import SarifWriter
from rotation.audit.report.text import CsvWriter, SummaryWriter
from rotation.errors import UserError

OCSF_FILE = "audit.ocsf.json"


class Writer(Protocol):
    """One format, fed every application's findings once (`add`), then the finished report (`close`)."""

    def add(self, app: str, findings: Sequence[Finding]) -> None: ...
    def close(self, report: AuditReport) -> None: ...


WRITERS: dict[str, tuple[str, Callable[[IO[str], AuditReport], Writer]]] = {
    "ocsf": (OCSF_FILE, OcsfWriter),
    "sarif": ("audit.sarif", SarifWriter),
    "html": ("audit.html", HtmlWriter),
    "csv": ("audit.csv", CsvWriter),
    "md": ("summary.md", SummaryWriter),
}
FORMATS = tuple(WRITERS)
CONTENT_TYPES = {
    MANIFEST_FILE: "application/json",
    "audit.ocsf.json": "application/json",
    "audit.sarif": "application/sarif+json",
    "audit.html": "text/html; charset=utf-8",
    "audit.csv": "text/csv; charset=utf-8",
    "summary.md": "text/markdown; charset=utf-8",
}


def content_type(relative: str) -> str:
    """By name for the run's own files, by suffix for the per-app pages under `apps/`."""
    name = relative.rsplit("/", 1)[-1]
    if name in CONTENT_TYPES:
        return CONTENT_TYPES[name]
    return "text/html; charset=utf-8" if relative.startswith(f"{APPS_DIR}/") else "application/octet-stream"


def write_run(
    report: AuditReport, batches: Iterable[Sequence[Finding]], root: Path, formats: Iterable[str] = FORMATS
) -> tuple[Path, AuditReport]:
    """Streams the findings (one application's batch at a time, consumed once) into every chosen format at
    once; keeps only the open findings and counters (`Tally`). Returns the run folder and the finished report
    (its tally and diff)."""
    run_dir = root / report.run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    with contextlib.ExitStack() as files:
        writers = []
        for fmt in dict.fromkeys(["ocsf", *formats]):
            name, make = WRITERS[fmt]
            writers.append(make(files.enter_context((run_dir / name).open("w", encoding="utf-8")), report))
        tally = Tally()
        for batch in batches:
            if not batch:
                continue
            for finding in batch:
                tally.add(finding)
            for writer in writers:
                writer.add(batch[0].app, batch)
        finished = report.finished(tally)
        for writer in writers:
            writer.close(finished)
    manifest = json.dumps(finished.coverage.document(finished.run_id), indent=2, ensure_ascii=False) + "\n"
    (run_dir / MANIFEST_FILE).write_text(manifest, encoding="utf-8")
    if finished.coverage.full:
        _point_latest(root, finished.run_id)
    return run_dir, finished


def _point_latest(root: Path, run_id: str) -> None:
    temporary = root / f".latest-{run_id}"
    try:
        temporary.symlink_to(run_id, target_is_directory=True)
        os.replace(temporary, root / "latest")
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
    (root / "LATEST").write_text(run_id + "\n", encoding="utf-8")


def latest_run(root: Path) -> Path | None:
    pointer = root / "LATEST"
    if not pointer.is_file():
        return None
    run_dir = root / pointer.read_text(encoding="utf-8").strip()
    return run_dir if (run_dir / OCSF_FILE).is_file() else None


def load_entries(path: Path, what: str) -> tuple[str, list[DiffEntry]]:
    """(run id, OPEN entries) of a run folder or of its OCSF file, read line by line; a clear user error for
    anything else."""
    file = path / OCSF_FILE if path.is_dir() else path
    try:
        entries = read_entries(iter_events(file))
    except FileNotFoundError:
        raise UserError(f"{what}: got {str(path)!r}, expected a run folder or its {OCSF_FILE}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError(
            f"{what}: {file}: got a file that is not an audit run's OCSF findings, expected the "
            f"{OCSF_FILE} the audit writes"
        ) from None
    run_id = file.parent.name if path.is_dir() or file.name == OCSF_FILE else file.stem
    return run_id, entries


def load_coverage(path: Path, what: str) -> Coverage | None:
    """The manifest beside a run's OCSF file (`run.json`); None for a run written before manifests (full,
    every app)."""
    file = (path if path.is_dir() else path.parent) / MANIFEST_FILE
    if not file.is_file():
        return None
    try:
        return Coverage.read(json.loads(file.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError):
        raise UserError(
            f"{what}: {file}: got a file that is not an audit manifest, expected the {MANIFEST_FILE} the audit writes"
        ) from None
