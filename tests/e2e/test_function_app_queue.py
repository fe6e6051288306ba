"""The Function app with ROTATION_FANOUT=queue, against Azurite's queue service and the sandbox: the rotate
timer enqueues one message per app, the `rotate_app` queue trigger's user code (given the host's
`azure.functions.QueueMessage`) rotates each app, a failing app's invocation raises until the host moves the
message to the poison queue, and the next audit timer reports that app (OPS-001).

The Functions host's part (poll, call, delete on success, retry, poison after maxDequeueCount) is played
here with the same SDK calls; it cannot run in tests."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.functions.queue import QueueMessage as FunctionQueueMessage  # what the host's converter builds
from azure.storage.queue import QueueClient, QueueMessage, TextBase64DecodePolicy, TextBase64EncodePolicy

from emulators.azurite import AzuriteEndpoints
from emulators.sandbox import RunningWorld
from rotation.errors import AppFailedError, JobFailedError
from tests.e2e.function_support import call_timer, indexed_functions, log_events, vault_values

HOST = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text(encoding="utf-8"))
MAX_DEQUEUE_COUNT = HOST["extensions"]["queues"]["maxDequeueCount"]


@pytest.fixture
def queue_env(sandbox_env: Path, azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"rotation-apps-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("ROTATION_FANOUT", "queue")
    monkeypatch.setenv("ROTATION_QUEUE", name)
    monkeypatch.setenv("ROTATION_LEASE_CONTAINER", f"leases-{uuid.uuid4().hex[:8]}")
    return name


def _queue(azurite: AzuriteEndpoints, name: str) -> QueueClient:
    """The host's view of the queue: base64 text (host.json messageEncoding)."""
    return QueueClient.from_connection_string(
        azurite.connection_string,
        name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )


def _invoke(message: QueueMessage) -> None:
    user_code: Any = indexed_functions()["rotate_app"].get_user_function()
    user_code(
        FunctionQueueMessage(  # type: ignore[no-untyped-call]  # untyped in azure-functions
            id=message.id,
            body=message.content.encode("utf-8"),
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
        )
    )


def _host_delivers(queue: QueueClient, poison: QueueClient, message: QueueMessage) -> tuple[str, int]:
    """Call the function; delete on success; on an exception retry until maxDequeueCount, then poison."""
    while True:
        try:
            _invoke(message)
        except AppFailedError:
            if (message.dequeue_count or 0) >= MAX_DEQUEUE_COUNT:
                poison.create_queue()
                poison.send_message(message.content)
                queue.delete_message(message)
                return "poisoned", message.dequeue_count or 0
            queue.update_message(message, visibility_timeout=0)
            [message] = queue.receive_messages(max_messages=1, visibility_timeout=60)
            continue
        queue.delete_message(message)
        return "done", message.dequeue_count or 0


def test_queue_fanout_rotates_each_app_and_the_audit_reports_the_poisoned_one(
    world: RunningWorld, azurite: AzuriteEndpoints, queue_env: str, sandbox_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    contoso = world.world.iotcentral.app("contoso-fleet")
    before = set(contoso.tokens)
    with caplog.at_level(logging.INFO):
        call_timer("rotate")  # enqueues only: nothing rotated yet, nothing failed
    assert set(contoso.tokens) == before
    enqueued = next(e for e in log_events(caplog) if e["event"] == "job_enqueued")
    assert (enqueued["apps"], enqueued["queue"]) == (3, queue_env)

    queue, poison = _queue(azurite, queue_env), _queue(azurite, f"{queue_env}-poison")
    messages = list(queue.receive_messages(max_messages=32, visibility_timeout=60))
    bodies = {json.loads(m.content)["app"]: m for m in messages}
    assert set(bodies) == {"contoso-fleet", "fabrikam-stores", "northwind-labs"}
    caplog.clear()
    with caplog.at_level(logging.INFO):
        outcomes = {app: _host_delivers(queue, poison, message) for app, message in bodies.items()}
    assert outcomes == {
        "contoso-fleet": ("done", 1),
        "fabrikam-stores": ("done", 1),
        "northwind-labs": ("poisoned", MAX_DEQUEUE_COUNT),
    }  # not a user there yet
    assert any(t.startswith("rot-auditor-") for t in set(contoso.tokens) - before)
    assert world.world.vault.versions("iotc-contoso-fleet-auditor")[-1].tags["stage"] == "current"
    events = log_events(caplog)
    retried = [e for e in events if e["event"] == "message_retried"]
    assert [e["dequeue_count"] for e in retried] == list(range(1, MAX_DEQUEUE_COUNT + 1))
    assert all(e["app"] == "northwind-labs" and e["job"] == "rotate" and e["trigger"] == "queue" for e in retried)
    summaries = [e for e in events if e["event"] == "app_summary" and e["app"] == "northwind-labs"]
    assert len(summaries) == MAX_DEQUEUE_COUNT  # each failed attempt logs its summary before raising
    assert len({e["run_id"] for e in events if e["event"] == "message_received"}) == 2 + MAX_DEQUEUE_COUNT

    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(JobFailedError):
        call_timer("audit")  # fails: northwind-labs cannot be read, and its rotation was poisoned
    run_dir = Path(next(e for e in log_events(caplog) if e["event"] == "audit_done")["run_dir"])
    findings = json.loads((run_dir / "audit.ocsf.json").read_text(encoding="utf-8"))
    text = json.dumps(findings)
    assert "OPS-001" in text
    poisoned = [line for line in caplog.messages if line.startswith("audit_finding control=OPS-001")]
    assert len(poisoned) == 1
    assert "status=FAIL app=northwind-labs resource=fanout" in poisoned[0]
    for value in vault_values(world):
        assert value not in caplog.text


def test_an_unreadable_message_is_dropped_not_retried(
    world: RunningWorld, azurite: AzuriteEndpoints, queue_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue, poison = _queue(azurite, queue_env), _queue(azurite, f"{queue_env}-poison")
    queue.create_queue()
    queue.send_message("not json")
    [message] = queue.receive_messages(max_messages=1, visibility_timeout=60)
    with caplog.at_level(logging.INFO):
        assert _host_delivers(queue, poison, message) == ("done", 1)
    dropped = next(e for e in log_events(caplog) if e["event"] == "message_dropped")
    assert "not JSON" in dropped["reason"]
    assert [m.content for m in poison.peek_messages()] == ["not json"]  # where the next audit sees it
