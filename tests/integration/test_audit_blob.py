"""Audit runs in Blob Storage through the real azure-storage-blob against Azurite: write-once names with
content types, the previous run read back for the diff, and a failed upload that keeps the local copy and
makes the run fail."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from emulators.azurite import AzuriteEndpoints, connection_string
from emulators.sandbox import RunningWorld
from rotation.adapters.blobstore import BlobReportStore
from rotation.audit.report.files import CONTENT_TYPES, content_type
from rotation.audit.run import run_audit
from rotation.errors import ServiceError
from tests.integration.audit_support import audit_runtime, register_northwind

pytestmark = pytest.mark.azurite


def _container() -> str:
    return f"reports-{uuid.uuid4().hex[:12]}"


def test_runs_are_published_write_once_and_the_diff_reads_the_previous_run_from_blob(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    register_northwind(world)
    container = _container()
    settings = {
        "ROTATION_REPORTS_CONNECTION_STRING": azurite.connection_string,
        "ROTATION_REPORTS_CONTAINER": container,
    }
    first_runtime = audit_runtime(world, tmp_path / "first", extra=settings)
    first = run_audit(first_runtime)
    assert first.upload_error is None
    assert sorted(first.published) == sorted(f"runs/{first.report.run_id}/{name}" for name in CONTENT_TYPES)

    blobs = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    for name in first.published:
        properties = blobs.get_blob_client(name).get_blob_properties()
        assert properties.content_settings.content_type == CONTENT_TYPES[name.rsplit("/", 1)[1]]
    html = blobs.download_blob(f"runs/{first.report.run_id}/audit.html").readall()
    assert html == (first.run_dir / "audit.html").read_bytes()

    store = first_runtime.report_store()
    assert store is not None
    with pytest.raises(ServiceError, match="written once"):
        store.publish(first.run_dir)  # the same names again: refused, never overwritten
    store.close()

    # A fresh local folder (as on a Functions worker): the previous run comes from Blob Storage.
    second_runtime = audit_runtime(world, tmp_path / "second", extra=settings)
    second = run_audit(second_runtime)
    assert second.report.diff.previous_run == first.report.run_id
    assert second.report.diff.new == ()
    assert len(second.report.diff.unchanged) == len(first.open_findings)
    first_runtime.close()
    second_runtime.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_failed_upload_is_an_error_and_the_local_copy_survives(world: RunningWorld, tmp_path: Path) -> None:
    register_northwind(world)
    port = _closed_port()
    dead = connection_string(f"http://127.0.0.1:{port}/devstoreaccount1", f"http://127.0.0.1:{port}/devstoreaccount1")
    runtime = audit_runtime(world, tmp_path, extra={"ROTATION_REPORTS_CONNECTION_STRING": dead})
    run = run_audit(runtime)
    runtime.close()
    assert run.upload_error is not None
    assert run.exit_code == 3
    assert run.published == []
    assert (run.run_dir / "audit.html").is_file()
    assert (tmp_path / "latest").resolve() == run.run_dir.resolve()


def test_a_large_fleets_app_pages_are_published_and_a_stored_file_is_read_line_by_line_in_chunks(
    azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    run_dir = tmp_path / "20261202T000000.000000Z"
    (run_dir / "apps").mkdir(parents=True)
    lines = [f'{{"n": {i}, "text": "é✓ {"x" * (i % 50)}"}}' for i in range(400)]  # multi-byte across chunks
    (run_dir / "audit.ocsf.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run_dir / "apps" / "store-us.html").write_text("<html></html>", encoding="utf-8")
    container = BlobServiceClient.from_connection_string(
        azurite.connection_string, max_single_get_size=1024, max_chunk_get_size=1024
    ).get_container_client(_container())
    store = BlobReportStore(container, content_type)

    published = store.publish(run_dir)

    assert published == [f"runs/{run_dir.name}/apps/store-us.html", f"runs/{run_dir.name}/audit.ocsf.json"]
    page = container.get_blob_client(published[0]).get_blob_properties()
    assert page.content_settings.content_type == "text/html; charset=utf-8"
    read = store.read_lines(run_dir.name, "audit.ocsf.json")
    assert read is not None
    assert list(read) == lines  # 400 lines over ~20 chunks of 1 KiB, none split or lost
    assert store.read_lines(run_dir.name, "absent.json") is None
    store.close()
