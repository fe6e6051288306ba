"""A run folder on disk: every format written, then the `latest` pointer moved to it.

Layout: `<root>/<run-id>/{run.json, audit.ocsf.json, audit.sarif, audit.html, audit.csv, summary.md}` and
`<root>/latest` (a symlink to the newest FULL run folder, replaced atomically; a `LATEST` file naming it where
symlinks are unavailable). A scoped run (`--app`) never moves `latest`: a reader of `latest` always sees every
app; per-app baselines come from the manifests (`rotation.audit.report.baseline`). The OCSF file and the
manifest `run.json` are always written: they are the run's record, read back for diffs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from rotation.audit.report.baseline import MANIFEST_FILE
from rotation.audit.report.model import AuditReport, DiffEntry
from rotation.audit.report.ocsf import read_entries, to_ocsf
from rotation.audit.report.render import render_csv, render_html, render_summary
from rotation.audit.report.sarif import to_sarif
from rotation.errors import UserError

OCSF_FILE = "audit.ocsf.json"


def _json(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, tuple[str, Callable[[AuditReport], str]]] = {
    "ocsf": (OCSF_FILE, lambda r: _json(to_ocsf(r))),
    "sarif": ("audit.sarif", lambda r: _json(to_sarif(r))),
    "html": ("audit.html", render_html),
    "csv": ("audit.csv", render_csv),
    "md": ("summary.md", render_summary),
}
FORMATS = tuple(RENDERERS)
CONTENT_TYPES = {
    MANIFEST_FILE: "application/json",
    "audit.ocsf.json": "application/json",
    "audit.sarif": "application/sarif+json",
    "audit.html": "text/html; charset=utf-8",
    "audit.csv": "text/csv; charset=utf-8",
    "summary.md": "text/markdown; charset=utf-8",
}


def write_run(report: AuditReport, root: Path, formats: Iterable[str] = FORMATS) -> Path:
    run_dir = root / report.run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    for fmt in dict.fromkeys(["ocsf", *formats]):
        name, render = RENDERERS[fmt]
        (run_dir / name).write_text(render(report), encoding="utf-8")
    (run_dir / MANIFEST_FILE).write_text(_json(report.coverage.document(report.run_id)), encoding="utf-8")
    if report.coverage.full:
        _point_latest(root, report.run_id)
    return run_dir


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
    """(run id, entries) of a run folder or of its OCSF file; a clear user error for anything else."""
    file = path / OCSF_FILE if path.is_dir() else path
    try:
        events = json.loads(file.read_text(encoding="utf-8"))
        entries = read_entries(events)
    except FileNotFoundError:
        raise UserError(f"{what}: got {str(path)!r}, expected a run folder or its {OCSF_FILE}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError(
            f"{what}: {file}: got a file that is not an audit run's OCSF findings, expected the "
            f"{OCSF_FILE} the audit writes"
        ) from None
    run_id = file.parent.name if path.is_dir() or file.name == OCSF_FILE else file.stem
    return run_id, entries
