"""The real Azure Storage SDKs against the real Azurite: blobs with content types, leases as per-app
locks (a second lease on a held blob is refused with 409), queue messages; and the install hints."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient

from emulators.azurite import (
    ACCOUNT_NAME,
    NODE_MISSING,
    NOT_INSTALLED,
    AzuriteEndpoints,
    AzuriteUnavailableError,
    run_azurite,
    stop,
)

REPO = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.mark.azurite
def test_endpoints_are_loopback_and_name_the_dev_account(azurite: AzuriteEndpoints) -> None:
    for url in (azurite.blob_url, azurite.queue_url):
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith(f"/{ACCOUNT_NAME}")
    assert azurite.blob_url != azurite.queue_url
    assert f"BlobEndpoint={azurite.blob_url};" in azurite.connection_string
    assert azurite.account_key not in repr(azurite)


@pytest.mark.azurite
def test_blob_round_trip_keeps_content_and_content_type(azurite: AzuriteEndpoints) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container(unique("reports"))
    body = b'{"controls": []}'
    container.upload_blob("audit.json", body, content_settings=ContentSettings(content_type="application/json"))
    blob = container.get_blob_client("audit.json")
    assert blob.download_blob().readall() == body
    assert blob.get_blob_properties().content_settings.content_type == "application/json"
    assert [b.name for b in container.list_blobs()] == ["audit.json"]
    with pytest.raises(ResourceExistsError):
        container.upload_blob("audit.json", b"again")


@pytest.mark.azurite
def test_a_held_lease_refuses_a_second_one_with_409_until_released(azurite: AzuriteEndpoints) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container(unique("locks"))
    blob = container.upload_blob("app-contoso", b"")
    lease = blob.acquire_lease(lease_duration=15)
    with pytest.raises(HttpResponseError) as refused:
        blob.acquire_lease(lease_duration=15)
    assert refused.value.status_code == 409
    assert "ErrorCode:LeaseAlreadyPresent" in str(refused.value)
    with pytest.raises(HttpResponseError) as write_refused:
        blob.upload_blob(b"not holding the lock", overwrite=True)
    assert write_refused.value.status_code == 412
    blob.upload_blob(b"holding the lock", overwrite=True, lease=lease)
    lease.release()
    second = blob.acquire_lease(lease_duration=15)
    assert second.id != lease.id
    second.release()


@pytest.mark.azurite
def test_queue_send_and_receive(azurite: AzuriteEndpoints) -> None:
    name = unique("rotations")
    with QueueClient.from_connection_string(azurite.connection_string, name) as queue:
        queue.create_queue()
        sent = queue.send_message("rotate contoso/reader")
        received = list(queue.receive_messages(max_messages=5, visibility_timeout=30))
        assert [m.content for m in received] == ["rotate contoso/reader"]
        assert received[0].id == sent.id
        queue.delete_message(received[0])
        assert list(queue.receive_messages()) == []


def test_missing_node_gives_the_install_hint(tmp_path: Path) -> None:
    """In a separate interpreter whose PATH has no `node`, so nothing of ours is patched."""
    code = (
        "from pathlib import Path; from emulators.azurite import run_azurite\n"
        f"with run_azurite(Path({str(tmp_path / 'work')!r})): pass\n"
    )
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(REPO)}
    result = subprocess.run(  # noqa: S603 -- our own code
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == f"emulators.azurite.AzuriteUnavailableError: {NODE_MISSING}"


def test_missing_install_gives_the_npm_ci_hint(tmp_path: Path) -> None:
    with (
        pytest.raises(AzuriteUnavailableError, match="run: npm ci --prefix tools/azurite") as missing,
        run_azurite(tmp_path / "work", azurite_dir=tmp_path / "empty"),
    ):
        pass
    assert str(missing.value).startswith(NOT_INSTALLED)


@pytest.mark.azurite
def test_a_run_uses_its_workdir_and_leaves_nothing_listening(tmp_path: Path) -> None:
    with run_azurite(tmp_path) as endpoints:
        port = int(endpoints.blob_url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    assert "successfully listening" in (tmp_path / "azurite.log").read_text(encoding="utf-8")
    assert (tmp_path / "__azurite_db_blob__.json").exists()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_stop_kills_a_process_group_that_ignores_sigterm() -> None:
    code = "\n".join(
        [
            "import signal, time",
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)",
            "print('ready', flush=True)",
            "time.sleep(60)",
        ]
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    stop(process, grace=0.3)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL
