"""The audit's files against their specifications: SARIF validated by the official 2.1.0 JSON schema,
OCSF events carrying every attribute the 1.8.0 definitions require (class 2003), a self-contained HTML
page, a CSV row per finding; and `rotation report diff` on stored runs."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from emulators.sandbox import RunningWorld
from rotation.audit.controls import CATALOG
from rotation.audit.run import AuditRun, record_policy_error, run_audit
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.audit_support import audit_runtime, register_northwind

SPECS = Path(__file__).resolve().parents[1] / "specs"
OCSF = SPECS / "ocsf"


def _audit(world: RunningWorld, tmp_path: Path) -> AuditRun:
    register_northwind(world)
    runtime = audit_runtime(world, tmp_path)
    try:
        return run_audit(runtime)
    finally:
        runtime.close()


def _definition(relative: str) -> dict[str, Any]:
    return json.loads((OCSF / relative).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _required(*definitions: dict[str, Any]) -> set[str]:
    """Attributes required by a class and its parents (a child's setting wins)."""
    merged: dict[str, Any] = {}
    for definition in definitions:  # parent first
        for name, attribute in definition["attributes"].items():
            if isinstance(attribute, dict) and "requirement" in attribute:
                merged[name] = attribute["requirement"]
    return {name for name, requirement in merged.items() if requirement == "required"}


def test_sarif_validates_against_the_2_1_0_schema(world: RunningWorld, tmp_path: Path) -> None:
    run = _audit(world, tmp_path)
    schema = json.loads((SPECS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    document = json.loads((run.run_dir / "audit.sarif").read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(document), key=str)
    assert errors == []
    results = document["runs"][0]["results"]
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.id for c in CATALOG]
    assert len(results) == len(run.open_findings)
    assert {r["kind"] for r in results} == {"fail", "review"}  # FAIL and MANUAL
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_sarif_results_point_at_the_policy_line_that_declares_them(world: RunningWorld, tmp_path: Path) -> None:
    run = _audit(world, tmp_path)
    document = json.loads((run.run_dir / "audit.sarif").read_text(encoding="utf-8"))
    root = Path(__file__).resolve().parents[2]
    assert "%SRCROOT%" in document["runs"][0]["originalUriBaseIds"]
    for result in document["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/")
        text = (root / uri).read_text(encoding="utf-8").splitlines()
        line = text[physical["region"]["startLine"] - 1]
        resource = result["locations"][0]["logicalLocations"][0]["name"]
        if resource.startswith(("slots/", "keys/")):
            assert resource.split("/")[1] in line, (resource, line)
    unmanaged = [r for r in document["runs"][0]["results"] if r["ruleId"] == "IOTC-001"]
    assert unmanaged  # no declaration of their own: the app's line
    for result in unmanaged:
        physical = result["locations"][0]["physicalLocation"]
        line = (
            (root / physical["artifactLocation"]["uri"])
            .read_text(encoding="utf-8")
            .splitlines()[physical["region"]["startLine"] - 1]
        )
        assert result["properties"]["app"] in line, line


def test_a_policy_error_result_points_at_the_bad_line(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\napps: []\n", encoding="utf-8")
    runtime = Runtime(Settings.from_env({"ROTATION_REPORTS_DIR": str(tmp_path / "r")}), [])
    run = record_policy_error(runtime, f"{policy}:2 apps: got [], expected at least one app")
    result = json.loads((run.run_dir / "audit.sarif").read_text(encoding="utf-8"))["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_ocsf_events_carry_every_required_attribute(world: RunningWorld, tmp_path: Path) -> None:
    run = _audit(world, tmp_path)
    events = json.loads((run.run_dir / "audit.ocsf.json").read_text(encoding="utf-8"))
    assert len(events) == len(run.all_findings())  # one object per finding, PASS included
    required = _required(
        _definition("events/base_event.json"),
        _definition("events/findings/finding.json"),
        _definition("events/findings/compliance_finding.json"),
    )
    assert required >= {"class_uid", "finding_info", "compliance", "metadata", "time"}
    severity_ids = {int(k) for k in _definition("dictionary.json")["attributes"]["severity_id"]["enum"]}
    status_ids = {int(k) for k in _definition("events/findings/finding.json")["attributes"]["status_id"]["enum"]}
    compliance_status = {int(k) for k in _definition("objects/compliance.json")["attributes"]["status_id"]["enum"]}
    for event in events:
        assert required <= set(event), required - set(event)
        assert event["class_uid"] == 2003
        assert event["category_uid"] == 2
        assert event["type_uid"] == 2003 * 100 + event["activity_id"]
        assert event["severity_id"] in severity_ids
        assert event["status_id"] in status_ids | {99}
        assert event["compliance"]["status_id"] in compliance_status
        assert isinstance(event["time"], int)
        assert event["time"] > 1_700_000_000_000  # milliseconds
        assert event["metadata"]["version"] == "1.8.0"
        assert event["metadata"]["product"]["name"]
        assert event["finding_info"]["uid"]
        assert event["remediation"]["desc"]
        assert event["resources"][0]["uid"]
    assert {e["status_code"] for e in events} == {"PASS", "FAIL", "MANUAL"}


def test_html_is_self_contained_and_summary_comes_first(world: RunningWorld, tmp_path: Path) -> None:
    run = _audit(world, tmp_path)
    html = (run.run_dir / "audit.html").read_text(encoding="utf-8")
    assert re.findall(r"(?i)(?:https?:)?//[a-z0-9]", html) == []  # no external URL of any kind
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert html.index("Summary by severity") < html.index("Changes since the previous run") < html.index("<svg")
    for finding in run.all_findings():
        if finding.open:  # each open finding with its resource, evidence and remediation
            assert f"{finding.resource}</span> — " in html
            assert html.count(f"<code>{finding.control_id}</code>") >= 2


def test_csv_and_markdown(world: RunningWorld, tmp_path: Path) -> None:
    run = _audit(world, tmp_path)
    rows = list(csv.DictReader(io.StringIO((run.run_dir / "audit.csv").read_text(encoding="utf-8"))))
    assert len(rows) == len(run.all_findings())
    assert {r["status"] for r in rows} == {"PASS", "FAIL", "MANUAL"}
    assert all(json.loads(r["evidence"]) is not None for r in rows)
    summary = (run.run_dir / "summary.md").read_text(encoding="utf-8")
    assert f"| critical | {run.counts['critical']} |" in summary
    assert "&#39;" not in summary  # markdown is not HTML-escaped


@pytest.mark.parametrize("formats", [["html"], ["csv", "md"]])
def test_formats_can_be_chosen_and_ocsf_and_the_manifest_are_always_written(
    world: RunningWorld, tmp_path: Path, formats: list[str]
) -> None:
    register_northwind(world)
    runtime = audit_runtime(world, tmp_path)
    run = run_audit(runtime, formats=formats)
    runtime.close()
    names = {"html": "audit.html", "csv": "audit.csv", "md": "summary.md"}
    assert {p.name for p in run.run_dir.iterdir()} == {"audit.ocsf.json", "run.json", *(names[f] for f in formats)}


def test_the_audit_guide_lists_every_control() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text(encoding="utf-8")
    for control in CATALOG:
        row = f"| `{control.id}` | {control.title} | {control.severity} | {control.resource} | "
        assert f"{row}{control.framework_summary} |" in guide, control.id


def test_framework_references_reach_ocsf_sarif_and_html(world: RunningWorld, tmp_path: Path) -> None:
    run = _audit(world, tmp_path)
    by_id = {c.id: c for c in CATALOG}
    assert "IA-5" in by_id["IOTC-003"].frameworks["NIST SP 800-53 Rev. 5"]
    assert "A.8.2" in by_id["IOTC-002"].frameworks["ISO/IEC 27001:2022"]
    assert all(c.frameworks for c in CATALOG)
    for event in json.loads((run.run_dir / "audit.ocsf.json").read_text(encoding="utf-8")):
        control = by_id[event["compliance"]["control"]]
        assert event["compliance"]["standards"][1:] == list(control.frameworks)
        assert event["compliance"]["requirements"] == control.requirements
    assert "NIST SP 800-53 Rev. 5 AC-6(5)" in by_id["IOTC-002"].requirements
    rules = json.loads((run.run_dir / "audit.sarif").read_text(encoding="utf-8"))["runs"][0]["tool"]["driver"]["rules"]
    for rule in rules:
        control = by_id[rule["id"]]
        assert set(control.requirements) <= set(rule["properties"]["tags"])
        assert rule["properties"]["frameworks"] == {k: list(v) for k, v in control.frameworks.items()}
    html = (run.run_dir / "audit.html").read_text(encoding="utf-8")
    controls_table = html[html.index("<h2>Controls</h2>") :]
    for control in CATALOG:
        row = controls_table[controls_table.index(f"<code>{control.id}</code>") :]
        row = row[: row.index("</tr>")]
        for name, ids in control.frameworks.items():
            assert f"{name}</span> {', '.join(ids)}" in row, control.id
