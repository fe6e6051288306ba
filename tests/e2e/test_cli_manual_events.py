"""The paper trail of manual actions (issue 15), end to end through the CLI against the sandbox: each of
`bootstrap`, `rotate --now`, `revoke-now` and `import` writes its event (who from the credential's token
claims, what, why, when, outcome) to the local report store and, when configured, to Blob Storage
(Azurite); the next `rotation audit` lists every event as an OPS-002 finding in its OCSF output; and the
guards hold: no `--reason`, no terminal without `--yes`, a token-like reason, all exit 2 with nothing
changed; `--dry-run` changes nothing; a failed or refused action still writes its event."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from emulators.azurite import AzuriteEndpoints
from emulators.core.faults import Fault
from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from tests.e2e.test_cli import rotation
from tests.e2e.test_cli_json_schemas import _valid
from tests.integration.audit_support import register_northwind

APP = "contoso-fleet"
REVOKE = ["revoke-now", "--app", APP, "--token-id", "ops-admin"]


def _listed(world: RunningWorld) -> set[str]:
    """The app's token ids now (the emulator returns a fresh copy on each read)."""
    return set(world.world.iotcentral.app(APP).tokens)


def _events(reports: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for file in sorted((reports / "events").glob("*.jsonl"))
        for line in file.read_text(encoding="utf-8").splitlines()
    ]


def _ocsf_manual(run_dir: str) -> list[dict[str, Any]]:
    events = json.loads((Path(run_dir) / "audit.ocsf.json").read_text(encoding="utf-8"))
    return [e for e in events if e["compliance"]["control"] == "OPS-002"]


def _audit(env: dict[str, str]) -> dict[str, Any]:
    done = rotation(["audit", "--json"], env)
    assert done.returncode in {0, 1}, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_every_manual_action_writes_its_event_and_the_next_audit_lists_it(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    service = world.world.service
    started = datetime.now(UTC)
    admin_token = world.bootstrap_token_file.read_text(encoding="utf-8") if world.bootstrap_token_file else ""
    boot = rotation(["bootstrap", "--app", "northwind-labs", "--reason", "onboarding CHG-7"], env, stdin=admin_token)
    assert boot.returncode == 0, boot.stderr
    forced = rotation(
        ["rotate", "--app", APP, "--slot", "dashboard-reader", "--now", "--reason", "suspected leak INC-42"], env
    )
    assert forced.returncode == 0, forced.stderr
    revoked = rotation([*REVOKE, "--reason", "INC-42: made by hand", "--yes"], {**env, "ROTATION_LOG_LEVEL": "INFO"})
    assert revoked.returncode == 0, revoked.stderr
    key = world.world.iottly.add_key("greenhouse", "rotation: ingest (new)")
    imported = rotation(["import", "--app", "greenhouse", "--slot", "ingest"], env, stdin=key.value + "\n")
    assert imported.returncode == 0, imported.stderr

    events = _events(tmp_path)
    assert [(e["action"], e["app"], e["reason"], e["outcome"]) for e in events] == [
        ("bootstrap", "northwind-labs", "onboarding CHG-7", "done"),
        ("rotate-now", APP, "suspected leak INC-42", "done"),
        ("revoke-now", APP, "INC-42: made by hand", "done"),
        ("import", "greenhouse", "-", "done"),
    ]
    for event in events:  # who: the credential's token claims (the sandbox's managed identity), and when
        assert (event["who"]["object_id"], event["who"]["tenant_id"]) == (service.object_id, service.tenant_id)
        assert event["who"]["app_id"] == service.client_id
        assert event["who"]["os_user"]
        assert started <= datetime.fromisoformat(event["at"]) <= datetime.now(UTC)
        assert event["schema_version"] == 1
    boot_event, rotate_event, revoke_event, import_event = events
    assert boot_event["who"]["via"].startswith("api-token:")
    minted = [t for t in world.world.iotcentral.app(APP).tokens if t.startswith("rot-dashboard-reader-")]
    assert (rotate_event["slot"], rotate_event["token_id"]) == ("dashboard-reader", minted[-1])
    assert revoke_event["token_id"] == "ops-admin"
    assert import_event["slot"] == "ingest"
    everything = json.dumps(events) + "".join(d.stdout + d.stderr for d in (boot, forced, revoked, imported))
    assert key.value not in everything
    assert admin_token.strip() not in everything
    log_lines = [json.loads(line) for line in revoked.stderr.splitlines() if "manual_action" in line]
    assert [(line["logger"], line["event"]) for line in log_lines] == [
        (
            "rotation.manual",
            (
                f"manual_action action=revoke-now app={APP} slot=- token=ops-admin "
                f'who="{service.object_id} [os user {revoke_event["who"]["os_user"]}]" reason="INC-42: made by hand" '
                "outcome=done"
            ),
        )
    ]

    findings = _ocsf_manual(_audit(env)["run_dir"])
    assert sorted((f["resources"][0]["group"]["name"], f["resources"][0]["data"]["action"]) for f in findings) == [
        (APP, "revoke-now"),
        (APP, "rotate-now"),
        ("greenhouse", "import"),
        ("northwind-labs", "bootstrap"),
    ]
    for finding in findings:
        data = finding["resources"][0]["data"]
        assert finding["status_code"] == "MANUAL"
        assert finding["compliance"]["requirements"][:1] == ["NIST SP 800-53 Rev. 5 AU-2"]
        assert {"who", "object_id", "reason", "when", "outcome", "event_id"} <= set(data)
        assert data["object_id"] == service.object_id
    scoped = _ocsf_manual(_audit_scoped(env, "greenhouse"))
    assert [f["resources"][0]["data"]["action"] for f in scoped] == ["import"]


def _audit_scoped(env: dict[str, str], app: str) -> str:
    done = rotation(["audit", "--json", "--app", app], env)
    assert done.returncode in {0, 1}, done.stderr
    return str(json.loads(done.stdout)["run_dir"])


@pytest.mark.azurite
def test_events_go_to_blob_storage_and_an_audit_on_a_fresh_disk_reads_them(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    container = f"reports-{uuid.uuid4().hex[:12]}"
    storage = {"ROTATION_REPORTS_CONNECTION_STRING": azurite.connection_string, "ROTATION_REPORTS_CONTAINER": container}
    env = {**service_env(world, tmp_path / "workstation", timedelta(0)), **storage}
    revoked = rotation([*REVOKE, "--reason", "INC-43", "--yes"], env)
    assert revoked.returncode == 0, revoked.stderr
    (local,) = _events(tmp_path / "workstation")
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    names = [b.name for b in blobs.list_blobs(name_starts_with="events/")]
    assert names == [f"events/{local['at'][:10].replace('-', '')}/{local['id']}.json"]
    assert json.loads(blobs.download_blob(names[0]).readall()) == local

    register_northwind(world)
    fresh = {**service_env(world, tmp_path / "function", timedelta(0)), **storage}  # a Functions worker's disk
    (finding,) = _ocsf_manual(_audit(fresh)["run_dir"])
    assert finding["resources"][0]["data"]["event_id"] == local["id"]
    assert finding["resources"][0]["data"]["reason"] == "INC-43"


def test_revoke_now_guards_exit_2_and_change_nothing(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    before = _listed(world)
    leaked = "SharedAccessSignature sr=x&sig=abcdefgh12345678&skn=ops-admin&se=1"
    cases = {
        "no reason": ([*REVOKE, "--yes"], "--reason: got nothing, expected why you do this"),
        "no terminal": ([*REVOKE, "--reason", "INC-44"], "--yes: got no terminal to confirm on, expected --yes"),
        "token as reason": ([*REVOKE, "--yes", "--reason", leaked], "--reason: got text that looks like a token value"),
    }
    for name, (args, message) in cases.items():
        done = rotation(args, env)
        assert done.returncode == 2, name
        assert done.stderr.strip().splitlines() == [done.stderr.strip()], name
        assert done.stderr.startswith(message), (name, done.stderr)
        assert "abcdefgh12345678" not in done.stderr
        assert "ops-admin" in _listed(world), name
    dry = rotation([*REVOKE, "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert "nothing changed" in dry.stdout
    assert "ops-admin" in dry.stdout
    dry_json = _valid("revoke-now", rotation([*REVOKE, "--dry-run", "--json"], env).stdout)
    assert dry_json["status"] == "dry-run"
    assert dry_json["preview"]["token_id"] == "ops-admin"
    assert dry_json["preview"]["roles"]
    assert "ops-admin" in _listed(world)
    assert not (tmp_path / "events").exists()  # refused arguments and dry runs write no event

    no_reason = rotation(["rotate", "--app", APP, "--slot", "dashboard-reader", "--now"], env)
    assert no_reason.returncode == 2
    assert no_reason.stderr.startswith("--reason: got nothing")
    assert _listed(world) == before


def test_a_refused_or_failed_action_still_writes_its_event(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    current = world.world.vault.versions("iotc-contoso-fleet-dashboard-reader")[-1].tags["token-id"]
    refused = rotation(["revoke-now", "--app", APP, "--token-id", current, "--reason", "INC-45", "--yes"], env)
    assert refused.returncode == 2
    world.world.iotcentral.faults.add(Fault("error", route="ApiTokens_Remove", status=403))
    try:
        failed = rotation([*REVOKE, "--reason", "INC-46", "--yes"], env)
    finally:
        world.world.iotcentral.faults.clear()
    assert failed.returncode == 3, failed.stderr
    assert "ops-admin" in world.world.iotcentral.app(APP).tokens
    events = _events(tmp_path)
    assert [(e["token_id"], e["reason"], e["outcome"]) for e in events] == [
        (current, "INC-45", "refused"),
        ("ops-admin", "INC-46", "failed"),
    ]
    assert "the current token of slot dashboard-reader" in events[0]["detail"]
    assert "403" in events[1]["detail"]


def _on_a_terminal(args: list[str], env: dict[str, str], answer: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a pseudo-terminal as stdin (as a person runs it), the answer typed in advance."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode())
        return subprocess.run(  # noqa: S603
            [sys.executable, "-m", "rotation", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_revoke_now_asks_on_a_terminal_and_no_revokes_nothing(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    declined = _on_a_terminal([*REVOKE, "--reason", "INC-47"], env, "n\n")
    assert declined.returncode == 2, declined.stderr
    assert "Revoke token ops-admin of app contoso-fleet? [y/N]" in declined.stdout
    assert declined.stderr.strip() == "confirmation: got no, expected y to revoke ops-admin; nothing revoked"
    assert "ops-admin" in _listed(world)
    assert not (tmp_path / "events").exists()
    confirmed = _on_a_terminal([*REVOKE, "--reason", "INC-47"], env, "y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "ops-admin" not in _listed(world)
    assert [(e["token_id"], e["outcome"]) for e in _events(tmp_path)] == [("ops-admin", "done")]


def test_an_event_that_cannot_be_stored_leaves_the_action_done_and_exits_3(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "events").write_text("not a folder", encoding="utf-8")
    done = rotation([*REVOKE, "--reason", "INC-48", "--yes"], env)
    assert done.returncode == 3, done.stderr
    assert "ops-admin" not in _listed(world)
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("revoke-now: done, but its audit event was not stored: "), done.stderr
    assert "Traceback" not in done.stderr
