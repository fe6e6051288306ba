"""Queue fan-out against Azurite's queue service and the sample world: enqueue one message per app, handle
each (the app is rotated in the emulators), a failing app's message raises and ends in the poison queue
after the host's retries (the host's part is played here with the same SDK calls), poison entries are
listed without being removed, unrunnable messages are not retried."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient, QueueMessage, TextBase64DecodePolicy, TextBase64EncodePolicy

from emulators.azurite import AzuriteEndpoints
from emulators.sandbox import RunningWorld
from rotation.audit.run import run_audit
from rotation.engine.jobs import LEASE
from rotation.errors import AppFailedError, ConfigError
from rotation.hosting.config import Settings
from rotation.hosting.fanout import PoisonEntry, enqueue_apps, handle_message, poison_entries
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

MAX_DEQUEUE_COUNT = 5  # host.json extensions.queues.maxDequeueCount


def _runtime(world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path, queue: str) -> Runtime:
    settings = Settings.from_env(
        {
            "ROTATION_CA_BUNDLE": str(world.ca.pem_path),
            "ROTATION_REPORTS_DIR": str(tmp_path / "reports"),
            "AzureWebJobsStorage": azurite.connection_string,
            "ROTATION_FANOUT": "queue",
            "ROTATION_QUEUE": queue,
            "ROTATION_LEASE_CONTAINER": f"leases-{uuid.uuid4().hex[:12]}",
        }
    )
    return Runtime(settings, sample_specs(world))


def _queue(azurite: AzuriteEndpoints, name: str, *, base64_text: bool = True) -> QueueClient:
    """The host's view of a queue: base64 text (messageEncoding), or the raw stored content."""
    policies: dict[str, Any] = (
        {"message_encode_policy": TextBase64EncodePolicy(), "message_decode_policy": TextBase64DecodePolicy()}
        if base64_text
        else {}
    )
    return QueueClient.from_connection_string(azurite.connection_string, name, **policies)


def _host_delivers(queue: QueueClient, runtime: Runtime, message: QueueMessage, poison: QueueClient) -> str:
    """What the Functions host does with one message: call the function; delete on success; on an exception
    make it visible again and retry until the dequeue count reaches maxDequeueCount, then move it to the
    poison queue. Returns "done" or "poisoned"."""
    while True:
        dequeue_count = message.dequeue_count or 0
        try:
            handle_message(runtime, message.content, dequeue_count)
        except AppFailedError:
            if dequeue_count >= MAX_DEQUEUE_COUNT:
                poison.create_queue()
                poison.send_message(message.content)
                queue.delete_message(message)
                return "poisoned"
            queue.update_message(message, visibility_timeout=0)  # host.json's visibilityTimeout, here 0
            [message] = queue.receive_messages(max_messages=1, visibility_timeout=60)
            continue
        queue.delete_message(message)
        return "done"


@pytest.mark.azurite
def test_enqueue_one_base64_json_message_per_app(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    name = f"rotation-apps-{uuid.uuid4().hex[:8]}"
    runtime = _runtime(world, azurite, tmp_path, name)
    assert enqueue_apps(runtime, "rotate") == 3
    with _queue(azurite, name, base64_text=False) as raw:
        stored = [m.content for m in raw.peek_messages(max_messages=32)]
    bodies = [json.loads(base64.b64decode(content, validate=True)) for content in stored]
    assert sorted(b["app"] for b in bodies) == ["contoso-fleet", "fabrikam-stores", "northwind-labs"]
    assert {b["job"] for b in bodies} == {"rotate"}
    assert all(set(b) == {"job", "app", "enqueued_at"} for b in bodies)
    assert len({b["enqueued_at"] for b in bodies}) == 1
    runtime.close()


@pytest.mark.azurite
def test_each_message_rotates_its_app_and_a_failing_app_ends_in_the_poison_queue(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    name = f"rotation-apps-{uuid.uuid4().hex[:8]}"
    runtime = _runtime(world, azurite, tmp_path, name)
    auditor_versions = len(world.world.vault.versions("iotc-contoso-fleet-auditor"))
    assert enqueue_apps(runtime, "rotate") == 3
    outcome: dict[str, str] = {}
    with _queue(azurite, name) as queue, _queue(azurite, f"{name}-poison") as poison:
        for message in queue.receive_messages(max_messages=32, visibility_timeout=60):
            app = json.loads(message.content)["app"]
            outcome[app] = _host_delivers(queue, runtime, message, poison)
        assert queue.peek_messages(max_messages=32) == []
    # northwind-labs is blocked (its service principal is not a user yet): it fails on every attempt.
    assert outcome == {"contoso-fleet": "done", "fabrikam-stores": "done", "northwind-labs": "poisoned"}
    versions = world.world.vault.versions("iotc-contoso-fleet-auditor")
    assert len(versions) == auditor_versions + 1
    assert versions[-1].tags["stage"] == "current"
    assert versions[-1].tags["token-id"] in world.world.iotcentral.app("contoso-fleet").tokens

    [entry] = poison_entries(runtime)
    assert (entry.app, entry.job, entry.count) == ("northwind-labs", "rotate", 1)
    assert entry.enqueued_at
    assert poison_entries(runtime) == [entry]  # peeked, never removed
    # ... and the next audit reports the app that keeps failing.
    audit = run_audit(runtime)
    assert {f.app: f.status for f in audit.all_findings() if f.control_id == "OPS-001"} == {
        "contoso-fleet": "PASS",
        "fabrikam-stores": "PASS",
        "northwind-labs": "FAIL",
    }
    runtime.close()


@pytest.mark.azurite
def test_a_failing_apps_message_raises_with_the_per_app_result(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    runtime = _runtime(world, azurite, tmp_path, f"rotation-apps-{uuid.uuid4().hex[:8]}")
    body = json.dumps({"job": "rotate", "app": "northwind-labs", "enqueued_at": "2026-01-01T00:00:00+00:00"})
    with pytest.raises(AppFailedError, match=r"rotate northwind-labs: failed \(attempt 2\)") as failed:
        handle_message(runtime, body, 2)
    [run] = failed.value.result.apps
    assert run.app == "northwind-labs"
    assert run.failed
    runtime.close()


@pytest.mark.azurite
def test_a_message_for_an_app_another_run_holds_is_skipped_not_failed(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    name = f"rotation-apps-{uuid.uuid4().hex[:8]}"
    runtime = _runtime(world, azurite, tmp_path, name)
    inline = Runtime(runtime.settings, runtime.apps)  # an inline timer run holding contoso's lease
    held = inline.app_lock("contoso-fleet")
    assert held.try_acquire()
    try:
        result = handle_message(runtime, json.dumps({"job": "rotate", "app": "contoso-fleet", "enqueued_at": ""}), 1)
    finally:
        held.release()
    assert not result.failed
    [run] = result.apps
    assert run.skipped
    assert [(o.action, o.status) for o in run.outcomes] == [(LEASE, "skipped")]
    runtime.close()
    inline.close()


@pytest.mark.azurite
def test_unrunnable_messages_are_not_retried(world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path) -> None:
    """Garbage and unknown jobs go straight to the poison queue (reported by the audit); a message for an
    app no longer in the policies is dropped with its reason. None raises, so the host does not retry."""
    name = f"rotation-apps-{uuid.uuid4().hex[:8]}"
    runtime = _runtime(world, azurite, tmp_path, name)
    garbage = handle_message(runtime, "not json at all", 1)
    assert garbage.dropped is not None
    assert garbage.dropped.startswith("queue message: got 15 characters that are not JSON")
    unknown_job = handle_message(runtime, json.dumps({"job": "format-disk", "app": "contoso-fleet"}), 1)
    assert unknown_job.dropped == ("queue message field job: got 'format-disk', expected one of rotate, revoke")
    removed_app = handle_message(
        runtime, json.dumps({"job": "revoke", "app": "retired-app", "enqueued_at": "2026-01-01T00:00:00+00:00"}), 1
    )
    assert removed_app.dropped is not None
    assert "got 'retired-app', expected an app of the policies" in removed_app.dropped
    assert (removed_app.job, removed_app.apps, removed_app.failed) == ("revoke", [], False)

    assert poison_entries(runtime) == [PoisonEntry("(unreadable)", "(unreadable)", "", 2)]
    runtime.close()


@pytest.mark.azurite
def test_no_poison_queue_means_no_entries(world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path) -> None:
    runtime = _runtime(world, azurite, tmp_path, f"rotation-apps-{uuid.uuid4().hex[:8]}")
    assert poison_entries(runtime) == []
    local = Runtime(Settings.from_env({"ROTATION_REPORTS_DIR": str(tmp_path)}), [])
    assert poison_entries(local) == []  # inline mode without host storage: nothing to report
    runtime.close()


def test_queue_fanout_without_host_storage_is_refused() -> None:
    with pytest.raises(ConfigError, match="ROTATION_FANOUT: got 'queue' without a queue endpoint"):
        Settings.from_env({"ROTATION_FANOUT": "queue"})
    with pytest.raises(ConfigError, match="ROTATION_QUEUE: got 'Rotation_Apps', expected a queue name"):
        Settings.from_env({"ROTATION_QUEUE": "Rotation_Apps"})
    with pytest.raises(ConfigError, match=r"ROTATION_QUEUE: got '.*', expected a queue name \(3-56"):
        Settings.from_env({"ROTATION_QUEUE": "q" * 57})  # NAME-poison must stay within 63 characters
    identity = Settings.from_env({"AzureWebJobsStorage__accountName": "rotationhost", "ROTATION_FANOUT": "queue"})
    assert identity.host_storage is not None
    assert identity.host_storage.queue_url == "https://rotationhost.queue.core.windows.net"
    assert identity.host_storage.blob_url == "https://rotationhost.blob.core.windows.net"
