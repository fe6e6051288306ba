"""Finding severities and their order: the one vocabulary behind `--fail-on`, ROTATION_FAIL_ON, the audit's
controls and the reports. Here, not in the controls catalog, so that settings and the CLI can check a
threshold without importing the audit. The usual five levels (Prowler, Checkov, OCSF)."""

from __future__ import annotations

from typing import Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for info: lower is worse (sorting and --fail-on); unknown sorts last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def at_or_above(severity: str, threshold: str) -> bool:
    """True when `severity` is as bad as `threshold` or worse (what makes a run exit 1)."""
    return severity_rank(severity) <= severity_rank(threshold)
