"""OCSF 1.8.0 Compliance Finding (class_uid 2003): one event per finding, for SIEMs and security lakes.

Attribute names, enums and the type_uid rule come from the OCSF schema files (vendored in
tests/specs/ocsf/); a test checks every required attribute against the vendored definitions.
`read_entries` reads a run back for the diff, from standard attributes only.

The file (`audit.ocsf.json`) is one JSON array with ONE COMPACT EVENT PER LINE (`[`, then `{...},` lines,
then `]`), written as the findings stream by (issue 14): a reader may `json.load` it whole or read it line by
line (`iter_events`, which also reads the indent=2 files of earlier versions and JSON Lines).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

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


def finding_event(finding: Finding, report: AuditReport) -> dict[str, Any]:
    control = finding.control
    severity_id = SEVERITY_IDS[finding.severity]
    status_id, status = FINDING_STATUS[report.state_of(finding) or "pass"]
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


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_HOLE = re.compile(r'"\\u0000(\d+)\\u0000"')  # a placeholder string, as the encoder writes it


def _hole(index: int) -> str:
    return f"\0{index}\0"


class _EventText:
    """`finding_event` as compact JSON text, fast: the event of one (control, status, diff state) is encoded
    once with placeholders for what differs per finding, and each finding fills them in. Same text as
    encoding `finding_event` (tests/unit/test_report_stream.py holds them equal), a fraction of the cost:
    most of an event is its control's (titles, rationale, remediation, frameworks) and the run's."""

    def __init__(self, report: AuditReport) -> None:
        self._report = report
        self._shapes: dict[tuple[str, str, str | None], list[str]] = {}

    def _shape(self, finding: Finding, state: str | None) -> list[str]:
        dummy = Finding(finding.control_id, finding.status, _hole(0), _hole(1), _hole(2), _hole(3))
        event = finding_event(dummy, self._report)
        event["message"] = _hole(4)
        event["finding_info"]["uid"] = _hole(5)
        event["resources"] = _hole(6)
        event["status_id"], event["status"] = FINDING_STATUS[state or "pass"]
        return _HOLE.split(_ENCODE(event))  # text, hole number, text, hole number, ..., text

    def __call__(self, finding: Finding) -> str:
        state = self._report.state_of(finding)
        key = (finding.control_id, finding.status, state)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = self._shape(finding, state)
        values = (
            finding.app,
            finding.resource_type,
            finding.resource,
            finding.message,
            f"{finding.control.title}: {finding.message}",
            finding.uid,
            [_resource(finding)],
        )
        parts = [shape[0]]
        for i in range(1, len(shape), 2):
            parts += (_ENCODE(values[int(shape[i])]), shape[i + 1])
        return "".join(parts)


class OcsfWriter:
    """Writes `audit.ocsf.json` as the findings go by: `[`, one compact event per line, `]`."""

    def __init__(self, file: IO[str], report: AuditReport) -> None:
        self._file, self._text, self._first = file, _EventText(report), True
        file.write("[")

    def add(self, app: str, findings: Iterable[Finding]) -> None:
        write, text = self._file.write, self._text
        for finding in findings:
            write("\n" if self._first else ",\n")
            self._first = False
            write(text(finding))

    def close(self, report: AuditReport) -> None:
        self._file.write("\n]\n")


def iter_events(file: Path) -> Iterator[Mapping[str, Any]]:
    """The events of an OCSF file, one at a time (`parse_lines`)."""
    with file.open(encoding="utf-8") as lines:
        yield from parse_lines(lines)


def parse_lines(lines: Iterable[str]) -> Iterator[Mapping[str, Any]]:
    """Events from the lines of an OCSF file, one at a time: the line-per-event array the audit writes, or
    JSON Lines; any other layout (the indented arrays of earlier versions) is loaded whole, as it was
    written. Raises ValueError on text that is not JSON, TypeError on JSON that is not an array."""
    rest = iter(lines)
    first = next(rest, "").strip()
    if first.startswith("{"):  # JSON Lines
        yield json.loads(first)
        yield from (json.loads(line) for line in rest if line.strip())
        return
    second = next(rest, "")
    if first == "[" and second.strip() == "]":
        return
    if first == "[" and second.startswith("{"):
        for line in itertools.chain([second], rest):
            text = line.rstrip().removesuffix(",")
            if text == "]":
                return
            yield json.loads(text)
        raise ValueError("got an OCSF array without its closing ], expected the whole file")
    document = json.loads("".join(itertools.chain([first, second], rest)))
    if not isinstance(document, list):
        raise TypeError(f"got a JSON {type(document).__name__}, expected an array of OCSF events")
    yield from document


def read_entries(events: Iterable[Mapping[str, Any]]) -> list[DiffEntry]:
    """The diff's view of a stored run: its OPEN findings only (a passing one is never new, resolved or
    unchanged). Raises KeyError/TypeError on a document that is not ours."""
    entries = []
    for event in events:
        if str(event["status_code"]) == "PASS":
            continue
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


def event_finding(event: Mapping[str, Any]) -> Finding:
    """A finding read back from its event (the resource's evidence included): `AuditRun.all_findings`."""
    resource = event["resources"][0]
    return Finding(
        str(event["compliance"]["control"]),
        event["status_code"],
        str(resource["group"]["name"]),
        str(resource["type"]),
        str(resource["name"]),
        str(event.get("status_detail", "")),
        {str(k): str(v) for k, v in resource.get("data", {}).items()},
    )
