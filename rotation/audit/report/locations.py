"""Where a finding is declared: the policy file and line of its slot or key, else of its app.

GitHub code scanning accepts a SARIF result only with a physical location, and a reviewer fixes a finding
in the policy anyway. The lines come from the policy loader (specs carry `declared_at`); this module only
maps findings to them and makes the path relative to the repository root (SARIF `%SRCROOT%`).

A finding of no declared app (app `-`: the fan-out poison queue's AUDIT-001, or an OPS-001 of an app the
queue names but no policy declares) points at line 1 of the first policy file: `-` is "the policies" in
every report, the queue serves the apps the policies declare, and the setting that turned the fan-out on
lives in the deployment, not in the repository code scanning reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rotation.audit.evaluate import Policies
from rotation.audit.findings import Finding

SRCROOT = "%SRCROOT%"
POLICIES = "-"  # the pseudo-app of findings about the policies and the fan-out queue


@dataclass(frozen=True)
class Location:
    uri: str  # relative to the repository root when `relative`, else an absolute file URI
    line: int
    relative: bool = True


def repo_root(start: Path) -> Path:
    """The nearest ancestor holding `.git` (a folder, or a file in a worktree); else the working directory."""
    for folder in [start, *start.parents]:
        if (folder / ".git").exists():
            return folder
    return Path.cwd().resolve()


def declared(at: tuple[str, int], root: Path | None = None) -> Location:
    """A (file, line) from the policy loader as a report location."""
    path = Path(at[0]).resolve()
    base = root or repo_root(path.parent)
    try:
        return Location(path.relative_to(base).as_posix(), at[1])
    except ValueError:
        return Location(path.as_uri(), at[1], relative=False)


def location_map(policies: Policies, root: Path | None = None) -> dict[str, Location]:
    """`app`, `app/slots/SLOT`, `app/keys/SLOT` and `app/secrets/SECRET` -> where they are declared."""
    found: dict[str, Location] = {}
    for app in policies.apps:
        if app.declared_at:
            found[app.name] = declared(app.declared_at, root)
        for slot in app.slots:
            if slot.declared_at:
                found[f"{app.name}/slots/{slot.slot}"] = found[f"{app.name}/secrets/{slot.secret}"] = declared(
                    slot.declared_at, root
                )
    for iottly in policies.iottly:
        if iottly.declared_at:
            found[iottly.name] = declared(iottly.declared_at, root)
        for key in iottly.keys:
            if key.declared_at:
                found[f"{iottly.name}/keys/{key.slot}"] = found[f"{iottly.name}/secrets/{key.secret}"] = declared(
                    key.declared_at, root
                )
    declarations = [a.declared_at for a in policies.apps] + [a.declared_at for a in policies.iottly]
    first = next((at for at in declarations if at), None)
    if first is not None:
        found[POLICIES] = declared((first[0], 1), root)
    return found


def locate(finding: Finding, locations: dict[str, Location]) -> Location | None:
    """The slot's or key's declaration; the app's for anything else (an unmanaged token has none); the
    policies' (`-`) for an app no policy declares."""
    parts = finding.resource.split("/")
    if len(parts) > 1 and parts[0] in ("slots", "keys", "secrets"):
        specific = locations.get(f"{finding.app}/{parts[0]}/{parts[1]}")
        if specific is not None:
            return specific
    return locations.get(finding.app) or locations.get(POLICIES)
