"""What the audit returns and every report renders: one judgement of one control on one resource.

Evidence is plain strings (ids, roles, dates, secret names and versions), never a token value. A fleet
audit makes hundreds of thousands of findings (issue 14), so a finding is compact (`slots`), and the hot
helpers that format dates and order findings are memoised here (`when`, `age`, `sort_key`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from rotation.audit.controls import CONTROLS, Control, Status
from rotation.domain.model import SecretVersion
from rotation.domain.severity import Severity, severity_rank


@dataclass(frozen=True, slots=True)
class Finding:
    control_id: str
    status: Status
    app: str
    resource_type: str
    resource: str  # unique within the app, e.g. "tokens/ops-admin", "slots/auditor"
    message: str
    evidence: Mapping[str, str] = field(default_factory=dict)

    @property
    def control(self) -> Control:
        return CONTROLS[self.control_id]

    @property
    def severity(self) -> Severity:
        return self.control.severity

    @property
    def uid(self) -> str:
        """Stable across runs: what the diff keys on."""
        return f"{self.control_id}:{self.app}/{self.resource}"

    @property
    def open(self) -> bool:
        return self.status != "PASS"

    @property
    def is_error(self) -> bool:
        """The audit could not judge (fail closed): the run must exit non-zero whatever the threshold."""
        return self.status == "FAIL" and self.control_id.startswith("AUDIT-")


_RANK = {cid: severity_rank(control.severity) for cid, control in CONTROLS.items()}
# With no control id a prefix of another, ordering uids ("<control>:<app>/<resource>") within one app is
# ordering (control, resource): the key compares the parts instead of building each uid.
_PREFIX_FREE = not any(a != b and b.startswith(a) for a in CONTROLS for b in CONTROLS)


def sort_key(finding: Finding) -> tuple[int, int, str, str, str]:
    """Open first, worst severity first, then app and uid; the rank looked up once per control."""
    if _PREFIX_FREE:
        return (
            0 if finding.status != "PASS" else 1,
            _RANK[finding.control_id],
            finding.app,
            finding.control_id,
            finding.resource,
        )
    return (0 if finding.open else 1, severity_rank(finding.severity), finding.app, finding.uid, "")


def _format_when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@lru_cache(maxsize=1 << 16)
def _when_at(moment: datetime, offset: timedelta | None) -> str:
    return _format_when(moment)


def when(moment: datetime | None) -> str:
    """Memoised: a token's expiry and creation are formatted several times each. The key holds the UTC
    offset, because equal instants in two zones compare equal but print differently."""
    return "none" if moment is None else _when_at(moment, moment.utcoffset())


@lru_cache(maxsize=1 << 16)
def age(delta: timedelta) -> str:
    """Memoised (timedeltas compare exactly, so equal ones print the same)."""
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if abs(hours) >= 48 else f"{hours:.0f} hours"


def version_evidence(secret: str, version: SecretVersion) -> dict[str, str]:
    return {
        "secret": secret,
        "version": version.version,
        "stage": version.stage or "none",
        "created": when(version.created_on),
        "expires_on": when(version.expires_on),
    }


def version_hygiene(app: str, secret: str, version: SecretVersion, tags: Sequence[str]) -> Finding:
    missing = [t for t in tags if not version.tags.get(t)]
    if version.expires_on is None:
        missing.insert(0, "expires_on")
    resource = f"secrets/{secret}/versions/{version.version}"
    message = f"missing {', '.join(missing)}" if missing else "expires_on and tags set"
    return Finding(
        "IOTC-010",
        "FAIL" if missing else "PASS",
        app,
        "secret-version",
        resource,
        message,
        version_evidence(secret, version),
    )


def policy_error(message: str) -> Finding:
    """The finding an invalid policy produces: the report says the audit could not run."""
    return Finding("AUDIT-002", "FAIL", "-", "policy", "policies", message, {"error": message})
