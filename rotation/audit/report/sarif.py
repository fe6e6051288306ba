"""SARIF 2.1.0: rules are the controls, results are the open findings (FAIL and MANUAL), so code-scanning
style tools (GitHub code scanning, Azure DevOps SARIF viewer) can show and track them. A test validates
the output against the official 2.1.0 JSON schema.

Written as the findings stream by (issue 14): the rules first (every control is known up front), then one
result per line, then the invocation (whether the audit completed is known only at the end; JSON members
have no order, so it follows the results).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import IO, Any

from rotation import __version__
from rotation.audit.controls import CATALOG, Control
from rotation.audit.findings import Finding
from rotation.audit.report.locations import SRCROOT, Location, locate
from rotation.audit.report.model import AuditReport

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def _rule(control: Control) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": control.id,
        "name": "".join(
            w.capitalize() for w in control.title.replace("(", " ").replace(")", " ").split() if w.isalnum()
        ),
        "shortDescription": {"text": control.title},
        "fullDescription": {"text": control.rationale},
        "help": {"text": control.remediation, "markdown": f"**Remediation.** {control.remediation}"},
        "defaultConfiguration": {"level": LEVELS[control.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[control.severity],
            "severity": control.severity,
            "resource": control.resource,
            "tags": ["security", "api-token", control.resource, *control.requirements],
            "frameworks": {name: list(ids) for name, ids in control.frameworks.items()},
        },
    }
    if control.references:
        rule["helpUri"] = control.references[0]
    return rule


def _location(finding: Finding, locations: dict[str, Location]) -> dict[str, Any]:
    """The policy line that declares the finding's slot or app (code scanning needs a physical location),
    with the resource itself as the logical location."""
    location: dict[str, Any] = {
        "logicalLocations": [
            {"name": finding.resource, "kind": "resource", "fullyQualifiedName": f"{finding.app}/{finding.resource}"}
        ]
    }
    declared = locate(finding, locations)
    if declared is not None:
        artifact = {"uri": declared.uri, "uriBaseId": SRCROOT} if declared.relative else {"uri": declared.uri}
        location["physicalLocation"] = {"artifactLocation": artifact, "region": {"startLine": declared.line}}
    return location


def _result(finding: Finding, index: dict[str, int], report: AuditReport) -> dict[str, Any]:
    manual = finding.status == "MANUAL"
    result: dict[str, Any] = {
        "ruleId": finding.control_id,
        "ruleIndex": index[finding.control_id],
        "kind": "review" if manual else "fail",
        "level": "none" if manual else LEVELS[finding.severity],
        "message": {"text": f"{finding.app}/{finding.resource}: {finding.message}"},
        "locations": [_location(finding, report.locations)],
        "partialFingerprints": {"findingUid/v1": hashlib.sha256(finding.uid.encode()).hexdigest()[:32]},
        "properties": {
            "app": finding.app,
            "status": finding.status,
            "severity": finding.severity,
            "evidence": dict(finding.evidence),
        },
    }
    if report.previous_run is not None:  # compared with a previous run
        result["baselineState"] = report.state_of(finding) or "new"
    return result


def _compact(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


class SarifWriter:
    """`audit.sarif`: the document up to `"results":[` at once, a line per open finding, then the rest."""

    def __init__(self, file: IO[str], report: AuditReport) -> None:
        self._file, self._report, self._first = file, report, True
        self._index = {control.id: i for i, control in enumerate(CATALOG)}
        head = {"$schema": SARIF_SCHEMA, "version": "2.1.0"}
        run = {
            "tool": {
                "driver": {
                    "name": "rotation-audit",
                    "version": __version__,
                    "semanticVersion": __version__,
                    "rules": [_rule(c) for c in CATALOG],
                }
            },
            "automationDetails": {"id": f"rotation-audit/{report.run_id}"},
            "originalUriBaseIds": {SRCROOT: {"description": {"text": "The repository root (policy files)"}}},
        }
        file.write(f'{_compact(head)[:-1]},"runs":[{_compact(run)[:-1]},"results":[')

    def add(self, app: str, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if finding.open:
                self._file.write("\n" if self._first else ",\n")
                self._first = False
                self._file.write(_compact(_result(finding, self._index, self._report)))

    def close(self, report: AuditReport) -> None:
        invocation = {
            "executionSuccessful": report.complete,
            "endTimeUtc": report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": f"{f.app}: {f.message}"}} for f in report.errors
            ],
        }
        self._file.write(f'\n],"invocations":[{_compact(invocation)}]}}]}}\n')
