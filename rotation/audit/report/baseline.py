"""Which earlier run a new run is compared with, per app, and the manifest that makes that possible.

A run covers the apps it audited (`run.json`: `{"run_id", "scope": "full"|"apps", "apps"}`; the pseudo-app
`-` is the policies, which every run loads). The diff's baseline is, PER APP, the newest earlier run that
covered the app, looking back no further than the newest full run (an app a full run did not cover was not
declared then). So `rotation audit --app X` after a full audit compares X with X and leaves every other app
alone: nothing of theirs is *resolved* because it was not looked at. Runs written before manifests existed
count as full runs that covered every app.

The lookup reads through a small `RunSource` (run ids, a run's manifest, a run's OCSF entries), so the local
folder store and Blob Storage answer it the same way.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from rotation.audit.report.model import Coverage, DiffEntry
from rotation.audit.report.retention import Retention

MANIFEST_FILE = "run.json"
POLICIES_APP = "-"
RUN_ID = re.compile(r"^\d{8}T\d{6}\.\d{6}Z$")  # run_id_for's format: anything else is not a run folder


LEGACY = None  # a run without a manifest: full, every app


def entry_app(entry: DiffEntry) -> str:
    """uid is `CONTROL:app/resource` (findings.Finding.uid)."""
    return entry.uid.split(":", 1)[1].split("/", 1)[0]


class RunSource(Protocol):
    def run_ids(self, before: str) -> list[str]: ...  # ascending
    def coverage(self, run_id: str) -> Coverage | None: ...  # None: legacy run (full, every app)
    def entries(self, run_id: str) -> list[DiffEntry]: ...


@dataclass(frozen=True)
class Baseline:
    runs: Mapping[str, str]  # app -> the run id it is compared with
    entries: tuple[DiffEntry, ...]  # the previous entries the diff uses

    @property
    def newest(self) -> str | None:
        return max(self.runs.values(), default=None)


def _walk(source: RunSource, before: str) -> Iterator[tuple[str, Coverage | None]]:
    """Newest first, ending with the newest full (or legacy) run that audited apps: a run that recorded an
    invalid policy (it covered only the policies) moves `latest` but does not end the search."""
    for run_id in reversed(source.run_ids(before)):
        coverage = source.coverage(run_id)
        yield run_id, coverage
        if coverage is None or (coverage.full and coverage.apps - {POLICIES_APP}):
            return


def select(source: RunSource, run_id: str, covered: Iterable[str], current: Sequence[DiffEntry]) -> Baseline | None:
    """Per-app baseline of run `run_id`, which covered `covered` and found `current`.

    Apps the run has findings for without covering them (an undeclared app's poison-queue finding) are
    compared too, but only on the findings the run has: what it did not look at is never *resolved*.
    `current` needs to hold (at least) those findings: for a covered app it is not consulted."""
    covered_set, now = set(covered), {e.uid for e in current}
    wanted = covered_set | {entry_app(e) for e in current}
    runs: dict[str, str] = {}
    entries: list[DiffEntry] = []
    for earlier, coverage in _walk(source, run_id):
        apps = {a for a in wanted - set(runs) if coverage is None or coverage.covers(a)}
        if not apps:
            continue
        runs.update(dict.fromkeys(apps, earlier))
        entries += [
            e for e in source.entries(earlier) if entry_app(e) in apps and (entry_app(e) in covered_set or e.uid in now)
        ]
        if not wanted - set(runs):
            break
    return Baseline(runs, tuple(entries)) if runs else None


def comparable(
    old: Coverage | None, new: Coverage | None, old_entries: Sequence[DiffEntry], new_entries: Sequence[DiffEntry]
) -> tuple[frozenset[str] | None, list[DiffEntry], list[DiffEntry]]:
    """`rotation report diff OLD NEW` by the audit's own rule: what a run did not look at is never *new* nor
    *resolved*. Two full (or legacy) runs compare everything (an app dropped from the policies is resolved);
    when either is scoped, only the apps both covered are compared (a legacy run covered every app).
    Returns (the compared apps or None for all, the old entries, the new entries)."""
    if (old is None or old.full) and (new is None or new.full):
        return None, list(old_entries), list(new_entries)
    scopes = [c.apps for c in (old, new) if c is not None and not c.full]
    apps = frozenset.intersection(*scopes)
    for coverage in (old, new):
        if coverage is not None and coverage.full:
            apps &= coverage.apps
    return (
        apps,
        [e for e in old_entries if entry_app(e) in apps],
        [e for e in new_entries if entry_app(e) in apps],
    )


def baselines_to_keep(source: RunSource, newest: str) -> set[str]:
    """Every run some app's next diff starts from: the newest full run and, per app, the newest run that
    covered it after that (retention never prunes these)."""
    keep: set[str] = set()
    for run_id, _coverage in _walk(source, newest + "~"):  # '~' sorts after every run id: newest included
        keep.add(run_id)
    return keep


class LocalRuns:
    """Run folders under one root (`<root>/<run-id>/`), the OCSF file read back through `load`."""

    def __init__(self, root: Path, ocsf_file: str, load: Callable[[Path], list[DiffEntry]]) -> None:
        self.root, self._ocsf, self._load = root, ocsf_file, load

    def run_ids(self, before: str) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.name < before and RUN_ID.match(p.name) and not p.is_symlink() and (p / self._ocsf).is_file()
        )

    def coverage(self, run_id: str) -> Coverage | None:
        file = self.root / run_id / MANIFEST_FILE
        if not file.is_file():
            return LEGACY
        return Coverage.read(json.loads(file.read_text(encoding="utf-8")))

    def entries(self, run_id: str) -> list[DiffEntry]:
        return self._load(self.root / run_id)


class BlobStore(Protocol):
    def run_ids(self, file_name: str, before: str) -> list[str]: ...
    def read_json(self, run_id: str, file_name: str) -> Any | None: ...
    def read_lines(self, run_id: str, file_name: str) -> Iterable[str] | None: ...


class BlobRuns:
    """Runs under `runs/<run-id>/` in Blob Storage (`rotation.adapters.blobstore.BlobReportStore`)."""

    def __init__(
        self,
        store: BlobStore,
        ocsf_file: str,
        read: Callable[[Any], list[DiffEntry]],
        parse: Callable[[Iterable[str]], Any] | None = None,
    ) -> None:
        self._store, self._ocsf, self._read, self._parse = store, ocsf_file, read, parse

    def run_ids(self, before: str) -> list[str]:
        return self._store.run_ids(self._ocsf, before)

    def coverage(self, run_id: str) -> Coverage | None:
        document = self._store.read_json(run_id, MANIFEST_FILE)
        return LEGACY if document is None else Coverage.read(document)

    def entries(self, run_id: str) -> list[DiffEntry]:
        """Streamed line by line (`read_lines`) when a line parser is given: a fleet's OCSF file is hundreds
        of MB, never downloaded whole."""
        if self._parse is not None:
            return self._read(self._parse(self._store.read_lines(run_id, self._ocsf) or ()))
        return self._read(self._store.read_json(run_id, self._ocsf) or [])


def prune(runs: LocalRuns, retention: Retention, now: datetime, written: str) -> list[str]:
    """Removes local run folders past `retention`; never `written`, never a baseline some app's next diff
    needs (`baselines_to_keep`), never `latest`'s target, never a folder that is not named like a run."""
    ids = runs.run_ids(written + "~")
    keep = baselines_to_keep(runs, written) | {written}
    pointer = runs.root / "LATEST"
    if pointer.is_file():
        keep.add(pointer.read_text(encoding="utf-8").strip())
    if retention.runs is not None:
        expired = ids[: -retention.runs] if len(ids) > retention.runs else []
    else:
        cutoff = f"{now - timedelta(days=retention.days or 0):%Y%m%dT%H%M%S.%fZ}"
        expired = [r for r in ids if r < cutoff]
    removed = []
    for run_id in expired:
        if run_id in keep or not RUN_ID.match(run_id):
            continue
        shutil.rmtree(runs.root / run_id)
        removed.append(run_id)
    return removed
