"""The audit's reports written from a stream (issue 14): one pass over the findings feeds every format, the
writers keep no finding beyond the open ones, OCSF reads line by line and as one array, a large fleet's HTML
is an index with a page per app, and the two report defects of issue 15 (scoped `report diff`, SARIF results
of no app)."""

from __future__ import annotations

import dataclasses
import gc
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker
from typer.testing import CliRunner

from bench.synthetic import NOW, synthetic_fleet
from rotation.audit.evaluate import Observed, Policies, evaluate, evaluate_apps
from rotation.audit.findings import Finding
from rotation.audit.report.baseline import BlobRuns
from rotation.audit.report.files import FORMATS, load_entries, write_run
from rotation.audit.report.locations import location_map
from rotation.audit.report.model import AuditReport, Coverage, DiffEntry
from rotation.audit.report.ocsf import _ENCODE, _EventText, finding_event, iter_events, parse_lines, read_entries
from rotation.audit.report.render import INLINE_APPS, page_name
from rotation.audit.run import AuditRun
from rotation.cli.app import app as cli
from rotation.cli.audit import TABLE_OPEN, show_run

SPECS = Path(__file__).resolve().parents[1] / "specs"
RUN = "20261124T120000.000000Z"


def _fleet(apps: int, per_app: int = 4) -> tuple[Observed, Policies]:
    specs, states, checks = synthetic_fleet(apps * per_app, per_app)
    return Observed(states, checks), Policies(specs)


def _write(tmp_path: Path, observed: Observed, policies: Policies, **extra: object) -> tuple[Path, AuditReport]:
    report = AuditReport(RUN, NOW, observed, policies, **extra)  # type: ignore[arg-type]
    return write_run(report, evaluate_apps(observed, policies, NOW), tmp_path)


def test_ocsf_is_one_array_with_one_event_per_line(tmp_path: Path) -> None:
    observed, policies = _fleet(3)
    run_dir, report = _write(tmp_path, observed, policies)
    text = (run_dir / "audit.ocsf.json").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "["
    assert lines[-1] == "]"
    by_line = [json.loads(line.removesuffix(",")) for line in lines[1:-1]]
    assert by_line == json.loads(text)  # the same events, whichever way it is read
    assert len(by_line) == report.tally.total == len(evaluate(observed, policies, NOW))
    assert list(iter_events(run_dir / "audit.ocsf.json")) == by_line
    _, entries = load_entries(run_dir, "run")
    assert sorted(e.uid for e in entries) == sorted(f.uid for f in report.open_findings)  # open entries only


@pytest.mark.parametrize("layout", ["indent", "jsonl"])
def test_older_and_line_delimited_ocsf_files_still_read(tmp_path: Path, layout: str) -> None:
    observed, policies = _fleet(2)
    run_dir, report = _write(tmp_path, observed, policies)
    events = json.loads((run_dir / "audit.ocsf.json").read_text(encoding="utf-8"))
    other = tmp_path / f"{layout}.json"
    if layout == "indent":  # what earlier versions wrote
        other.write_text(json.dumps(events, indent=2) + "\n", encoding="utf-8")
    else:
        other.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    assert load_entries(other, "run")[1] == load_entries(run_dir, "run")[1]
    assert len(load_entries(other, "run")[1]) == len(report.open_findings) > 0


class _Once:
    """Batches of PASS findings (one open finding each) that may be iterated once, counting the findings
    still alive whenever the next batch is asked for."""

    def __init__(self, batches: int, size: int) -> None:
        self.batches, self.size, self.started, self.done, self.most_alive = batches, size, False, False, 0

    def __iter__(self) -> Iterator[list[Finding]]:
        assert not self.started, "the findings were iterated twice"
        self.started = True
        for index in range(self.batches):
            if index % 25 == 0:
                gc.collect()
                self.most_alive = max(self.most_alive, sum(isinstance(o, Finding) for o in gc.get_objects()))
            app = f"app-{index:04d}"
            batch = [Finding("IOTC-002", "FAIL", app, "token", "tokens/bad", "holds forbidden role", {"a": "b"})]
            batch += [
                Finding("IOTC-001", "PASS", app, "token", f"tokens/t{i}", "managed", {}) for i in range(self.size)
            ]
            yield batch
        self.done = True


def test_writers_consume_the_findings_once_and_keep_only_the_open_ones(tmp_path: Path) -> None:
    stream = _Once(batches=400, size=100)  # 40,400 findings: far more than any bounded list a report keeps
    report = AuditReport(RUN, NOW, Observed({}), Policies([]))
    run_dir, finished = write_run(report, stream, tmp_path, FORMATS)
    assert stream.done
    assert finished.tally.total == 40_400
    assert len(finished.open_findings) == 400
    assert stream.most_alive <= 400 + 2 * 101  # the open ones, plus at most the batch in hand
    rows = (run_dir / "audit.csv").read_text(encoding="utf-8").count("\n")
    assert rows == 40_401
    assert len((run_dir / "audit.ocsf.json").read_text(encoding="utf-8").splitlines()) == 40_402
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "and 300 more open findings" in summary
    assert (run_dir / "audit.html").read_text(encoding="utf-8").count('<details class="app"') == 400


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_a_large_fleet_gets_an_index_page_and_a_page_per_app(tmp_path: Path) -> None:
    observed, policies = _fleet(INLINE_APPS + 5)
    run_dir, _ = _write(tmp_path, observed, policies)
    index = (run_dir / "audit.html").read_text(encoding="utf-8")
    pages = sorted((run_dir / "apps").glob("*.html"))
    assert len(pages) == INLINE_APPS + 5
    app_links = [link for link in _links(index) if link.startswith("apps/")]
    assert sorted(app_links) == sorted(f"apps/{p.name}" for p in pages)  # every page linked, every link a page
    assert index.index("Summary by severity") < index.index("<h2>Applications</h2>") < index.index("<h2>Controls")
    assert '<details class="app"' not in index
    assert "<svg" not in index
    for page in [run_dir / "audit.html", *pages]:
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html.lower()
        assert "<link" not in html.lower()
        assert re.findall(r"(?i)(?:https?:)?//[a-z0-9]", html) == []
        assert "@media (max-width: 700px)" in html
        for link in _links(html):
            if not link.startswith("#"):
                assert (page.parent / link).resolve().is_file(), (page.name, link)
    first = (run_dir / "apps" / "app-000000.html").read_text(encoding="utf-8")
    assert "<svg" in first
    assert 'href="../audit.html"' in first
    assert first.count("IOTC-001") >= 1


def test_a_small_fleet_keeps_one_page_with_a_collapsed_section_per_app(tmp_path: Path) -> None:
    observed, policies = _fleet(3)
    run_dir, _ = _write(tmp_path, observed, policies)
    html = (run_dir / "audit.html").read_text(encoding="utf-8")
    assert not (run_dir / "apps").exists()
    assert html.count('<details class="app"') == 3
    assert html.index("Summary by severity") < html.index('<details class="app"')
    for link in _links(html):
        assert link.startswith("#app-")
        assert f'id="{link[1:]}"' in html


def test_app_page_names_are_safe_and_distinct() -> None:
    taken: set[str] = set()
    names = [page_name(n, taken) for n in ["store-eu", "Store-EU", "../etc/passwd", "-", "a b<c>", "policies"]]
    assert names[0] == "store-eu.html"
    assert len({n.casefold() for n in names}) == len(names)
    assert names[3] == "policies.html"
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*\.html", n) for n in names)


def _stored_run(root: Path, run_id: str, coverage: Coverage, open_uids: list[str]) -> Path:
    """A run folder as the audit writes it (its OCSF events from `finding_event`, its manifest)."""
    folder = root / run_id
    folder.mkdir(parents=True)
    report = AuditReport(run_id, datetime(2026, 11, 24, tzinfo=UTC), Observed({}), Policies([]))
    events = []
    for uid in open_uids:
        control, rest = uid.split(":", 1)
        app, resource = rest.split("/", 1)
        events.append(finding_event(Finding(control, "FAIL", app, "token", resource, "unmanaged"), report))
    (folder / "audit.ocsf.json").write_text(json.dumps(events), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(coverage.document(run_id)), encoding="utf-8")
    return folder


def test_report_diff_with_a_scoped_run_compares_only_the_apps_both_covered(tmp_path: Path) -> None:
    """Failed before the fix: the other apps' open findings were listed as resolved."""
    full = Coverage(frozenset({"-", "store-eu", "store-us"}), full=True)
    scoped = Coverage(frozenset({"-", "store-eu"}), full=False)
    old = _stored_run(
        tmp_path, "20261101T000000.000000Z", full, ["IOTC-001:store-eu/tokens/a", "IOTC-001:store-us/tokens/b"]
    )
    new = _stored_run(
        tmp_path, "20261102T000000.000000Z", scoped, ["IOTC-001:store-eu/tokens/a", "IOTC-005:store-eu/tokens/c"]
    )
    for first, second, new_uids in [(old, new, ["IOTC-005:store-eu/tokens/c"]), (new, old, [])]:
        done = CliRunner().invoke(cli, ["report", "diff", str(first), str(second), "--json"], env={"NO_COLOR": "1"})
        assert done.exit_code == 0, done.output
        document = json.loads(done.output)
        assert [e["uid"] for e in document["new_findings"]] == new_uids
        assert [e["uid"] for e in document["resolved"]] == ([] if first == old else ["IOTC-005:store-eu/tokens/c"])
        assert [e["uid"] for e in document["unchanged"]] == ["IOTC-001:store-eu/tokens/a"]
    both_full = _stored_run(tmp_path, "20261103T000000.000000Z", full, ["IOTC-001:store-eu/tokens/a"])
    done = CliRunner().invoke(cli, ["report", "diff", str(old), str(both_full), "--json"], env={"NO_COLOR": "1"})
    assert [e["uid"] for e in json.loads(done.output)["resolved"]] == ["IOTC-001:store-us/tokens/b"]


def test_sarif_results_of_no_app_have_a_physical_location_and_validate(tmp_path: Path) -> None:
    """Failed before the fix: the poison queue's AUDIT-001 (app `-`) had only a logical location."""
    policy = tmp_path / "repo" / "policies" / "fleet.yaml"
    policy.parent.mkdir(parents=True)
    policy.write_text("version: 1\napps:\n  - name: app-000000\n", encoding="utf-8")
    (tmp_path / "repo" / ".git").mkdir()
    observed, policies = _fleet(1)
    spec = policies.apps[0]
    declared = Policies([dataclasses.replace(spec, declared_at=(str(policy), 3))])
    unreadable = dataclasses.replace(observed, poison_error="peek queue: HTTP 403")
    run_dir, _ = _write(tmp_path / "runs", unreadable, declared, locations=location_map(declared))
    document = json.loads((run_dir / "audit.sarif").read_text(encoding="utf-8"))
    schema = json.loads((SPECS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert sorted(Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(document), key=str) == []
    results = document["runs"][0]["results"]
    poison = [r for r in results if r["properties"]["app"] == "-"]
    assert [r["ruleId"] for r in poison] == ["AUDIT-001"]
    assert all("physicalLocation" in r["locations"][0] for r in results)
    physical = poison[0]["locations"][0]["physicalLocation"]
    assert physical == {
        "artifactLocation": {"uri": "policies/fleet.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }


def test_diff_entries_of_a_finding_round_trip_through_ocsf(tmp_path: Path) -> None:
    observed, policies = _fleet(2)
    run_dir, report = _write(tmp_path, observed, policies)
    assert sorted(load_entries(run_dir, "run")[1], key=lambda e: e.uid) == sorted(
        (DiffEntry.of(f) for f in report.open_findings), key=lambda e: e.uid
    )


def test_the_fast_event_text_is_the_encoded_event() -> None:
    observed, policies = _fleet(2)
    odd = Finding("IOTC-002", "MANUAL", 'a"b', "tok\\en", "tokens/é\u0000", 'said "x"\n\u00000\u0000', {"k": "\u2028"})
    findings = [*evaluate(observed, policies, NOW), odd]
    previous = tuple(DiffEntry.of(f) for f in findings[:3] if f.open)
    report = AuditReport(RUN, NOW, observed, policies, previous=previous, previous_run="20261101T000000.000000Z")
    text = _EventText(report)
    assert {report.state_of(f) for f in findings} == {"new", "unchanged", None}
    for finding in findings:
        assert text(finding) == _ENCODE(finding_event(finding, report)), finding


class _LinesStore:
    """Stored runs as a blob store would answer them, with the streaming read the adapter may offer."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.whole_reads = folder, 0

    def run_ids(self, file_name: str, before: str) -> list[str]:
        return [self.folder.name] if self.folder.name < before else []

    def read_json(self, run_id: str, file_name: str) -> object | None:
        self.whole_reads += file_name == "audit.ocsf.json"
        path = self.folder / file_name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def read_lines(self, run_id: str, file_name: str) -> Iterator[str]:
        with (self.folder / file_name).open(encoding="utf-8") as lines:
            yield from lines


def test_a_blob_baseline_is_read_line_by_line_when_the_store_can(tmp_path: Path) -> None:
    observed, policies = _fleet(2)
    run_dir, report = _write(tmp_path, observed, policies)
    store = _LinesStore(run_dir)
    runs = BlobRuns(store, "audit.ocsf.json", read_entries, parse_lines)
    assert runs.entries(run_dir.name) == load_entries(run_dir, "run")[1]
    assert len(runs.entries(run_dir.name)) == len(report.open_findings)
    assert store.whole_reads == 0


def test_the_cli_prints_a_bounded_table_of_open_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = AuditReport(RUN, NOW, Observed({}), Policies([]))
    run_dir, finished = write_run(report, _Once(batches=TABLE_OPEN + 7, size=2), tmp_path, ["md"])
    show_run(AuditRun(finished, run_dir, "high"), as_json=False)
    out = capsys.readouterr().out
    assert "and 7 more open findings" in out
    assert out.count("tokens/bad") == TABLE_OPEN
