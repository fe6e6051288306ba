"""The checkov gate of `make infra-check`: zero failed checks AND every Bicep file parsed AND a plausible
number of resources checked AND every skip carries a reason.

checkov exits 0 when it cannot parse a file (the file is merely listed under `parsing_errors`) and when
it found no resource at all, so its exit code alone would pass a broken template; this reads its JSON
report instead. Runs in the separate `.venv-infra` (checkov's pins conflict with the project's).

    .venv-infra/bin/python infra/check.py [--checkov PATH] [--min-resources N] [DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

FRAMEWORKS = ("bicep", "secrets")
# main.bicep and its modules declare ~30 resources; checkov counts more (it also counts child resources
# and role assignments per module). Fewer than this means a module was silently not read.
MIN_RESOURCES = 25


def run_checkov(checkov: str, directory: Path) -> list[dict[str, Any]]:
    """One checkov run over `directory`, its JSON report as a list of per-framework reports."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            checkov,
            "--directory",
            str(directory),
            "--framework",
            *FRAMEWORKS,
            "--skip-download",
            "--compact",
            "--output",
            "json",
            "--output-file-path",
            out,
        ]
        # exit code 1 = failed checks, which the report below says too; anything else is checkov failing
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        reports = sorted(Path(out).glob("*.json"))
        if done.returncode not in (0, 1) or not reports:
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"checkov: exit {done.returncode}, no JSON report")
        data = json.loads(reports[0].read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def problems_of(reports: list[dict[str, Any]], min_resources: int) -> tuple[list[str], dict[str, Any]]:
    """What makes the gate fail, and the bicep summary (for the closing line)."""
    problems: list[str] = []
    by_type = {r.get("check_type"): r for r in reports}
    bicep = by_type.get("bicep")
    if bicep is None:
        return ["checkov: no bicep report (no .bicep file found?)"], {}
    for report in reports:
        summary, results = report.get("summary", {}), report.get("results", {})
        kind = report.get("check_type")
        problems += [f"{kind}: cannot parse {path}" for path in results.get("parsing_errors", [])]
        if summary.get("parsing_errors", 0) and not results.get("parsing_errors"):
            problems.append(f"{kind}: {summary['parsing_errors']} parsing error(s)")
        problems += [
            f"{kind}: FAILED {c['check_id']} {c['check_name']} on {c['resource']} ({c['file_path']})"
            for c in results.get("failed_checks", [])
        ]
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
            if not reason or reason == "No comment provided":
                problems.append(f"{kind}: skip of {check['check_id']} on {check['resource']} has no reason")
    summary = bicep.get("summary", {})
    if summary.get("resource_count", 0) < min_resources:
        problems.append(
            f"bicep: got {summary.get('resource_count', 0)} resources checked, expected at least {min_resources}"
        )
    if summary.get("passed", 0) == 0:
        problems.append("bicep: no check passed: nothing was really checked")
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=Path(__file__).parent)
    parser.add_argument("--checkov", default=str(Path(sys.executable).parent / "checkov"))
    parser.add_argument("--min-resources", type=int, default=MIN_RESOURCES)
    args = parser.parse_args(argv)
    reports = run_checkov(args.checkov, args.directory)
    problems, summary = problems_of(reports, args.min_resources)
    for report in reports:
        for check in report.get("results", {}).get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            print(f"skipped {check['check_id']} on {check['resource']}: {reason}")  # noqa: T201
    for problem in problems:
        print(problem, file=sys.stderr)  # noqa: T201
    print(  # noqa: T201
        f"checkov bicep: {summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
        f"{summary.get('skipped', 0)} skipped, {summary.get('parsing_errors', 0)} parsing errors, "
        f"{summary.get('resource_count', 0)} resources"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
