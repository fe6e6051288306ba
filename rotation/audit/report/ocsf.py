"""OCSF 1.8.0 Compliance Finding (class_uid 2003): one event per finding, for SIEMs and security lakes.

Attribute names, enums and the type_uid rule come from the OCSF schema files (vendored in
tests/specs/ocsf/); a test checks every required attribute against the vendored definitions.
`read_entries` reads a run back for the diff, from standard attributes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rotation import __version__
from rotation.audit.findings import Finding
from rotation.audit.report.model import AuditReport, DiffEntry

OCSF_VERSION = "1.8.0"
CLASS_UID = 2003
CATEGORY_UID = 2
ACTIVITY_CREATE = 1
SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_CAPTIONS = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
COMPLIANCE_STATUS = {"PASS": (1, "Pass"), "FAIL": (3, "Fail"), "MANUAL": (2, "Warning")}
# finding status: open and new, open since an earlier run, or passing (99 Other: "Passed").
FINDING_STATUS = {"new": (1, "New"), "unchanged": (2, "In Progress"), "pass": (99, "Passed")}
STANDARD = "Rotation service API token controls"
PRODUCT = {
    "name": "rotation",
    "uid": "iotcentral-token-rotation",
    "vendor_name": "Rotation service",
    "version": __version__,
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def finding_event(finding: Finding, report: AuditReport, diff_state: Mapping[str, str]) -> dict[str, Any]:
    control = finding.control
    severity_id = SEVERITY_IDS[finding.severity]
    status_id, status = FINDING_STATUS["pass" if not finding.open else diff_state.get(finding.uid, "new")]
    time = _ms(report.generated_at)
    return {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": severity_id,
        "severity": SEVERITY_CAPTIONS[severity_id],
        "status_id": status_id,
        "status": status,
        "status_code": finding.status,
        "status_detail": finding.message,
        "time": time,
        "timezone_offset": 0,
        "message": f"{control.title}: {finding.message}",
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "log_name": "audit",
            "uid": report.run_id,
            "correlation_uid": report.run_id,
        },
        "finding_info": _finding_info(finding, time),
        "compliance": _compliance(finding),
        "resources": [_resource(finding)],
        "remediation": {"desc": control.remediation, "references": list(control.references)},
    }


def _finding_info(finding: Finding, time: int) -> dict[str, Any]:
    control = finding.control
    return {
        "uid": finding.uid,
        "title": control.title,
        "desc": control.rationale,
        "types": [finding.resource_type],
        "created_time": time,
        "analytic": {"uid": control.id, "name": control.title, "type_id": 1, "type": "Rule"},
    }


def _compliance(finding: Finding) -> dict[str, Any]:
    control = finding.control
    compliance_id, compliance_caption = COMPLIANCE_STATUS[finding.status]
    return {
        "control": control.id,
        "standards": [STANDARD, *control.frameworks],
        "requirements": control.requirements,
        "status_id": compliance_id,
        "status": compliance_caption,
        "status_details": [finding.message],
    }


def _resource(finding: Finding) -> dict[str, Any]:
    """The judged resource; its evidence is copied, as the event is a document of its own."""
    return {
        "uid": f"{finding.app}/{finding.resource}",
        "name": finding.resource,
        "type": finding.resource_type,
        "group": {"name": finding.app},
        "role_id": 1,
        "role": "Target",
        "data": dict(finding.evidence),
    }


def to_ocsf(report: AuditReport) -> list[dict[str, Any]]:
    states = report.diff.uids
    return [finding_event(f, report, states) for f in report.findings]


def read_entries(events: Sequence[Mapping[str, Any]]) -> list[DiffEntry]:
    """The diff's view of a stored run. Raises KeyError/TypeError on a document that is not ours."""
    entries = []
    for event in events:
        info = event["finding_info"]
        severity = SEVERITY_CAPTIONS[int(event["severity_id"])].lower()
        entries.append(
            DiffEntry(
                str(info["uid"]),
                str(event["compliance"]["control"]),
                "info" if severity == "informational" else severity,
                str(event["status_code"]),
                str(info.get("title", "")),
                str(event.get("status_detail", "")),
            )
        )
    return entries
