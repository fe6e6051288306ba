"""Audit runs in Azure Blob Storage (azure-storage-blob): each file written once under `runs/<run-id>/`
with its content type, never overwritten (`overwrite=False`; the reports container also carries a
time-based immutability policy in Azure). The newest run is found by listing, since run ids sort by
time: no mutable `latest` blob, which an immutable container would refuse anyway.

A failed upload raises `ServiceError`; the caller keeps the local copy and exits non-zero.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings, ExponentialRetry

from rotation.adapters.http import check_base_url
from rotation.adapters.origin import SameOriginPolicy
from rotation.adapters.sdk import DEFAULT_TIMEOUT
from rotation.adapters.storage import ensure_container, storage_error, storage_options
from rotation.errors import ServiceError

PREFIX = "runs/"


def build_blob_service(
    *,
    account_url: str | None,
    connection_string: str | None,
    credential: Any,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    logging_enable: bool = False,
) -> BlobServiceClient:
    """A Blob service client that talks only to its own endpoint (`rotation.adapters.storage`)."""
    origin = SameOriginPolicy(None, what)
    options = storage_options(ExponentialRetry, origin, timeout=timeout, logging_enable=logging_enable)
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string, **options)
    else:
        service = BlobServiceClient(check_base_url(account_url or "", what), credential=credential, **options)
    origin.bind(service.url)
    return service


def build_container_client(
    container: str,
    *,
    account_url: str | None,
    connection_string: str | None,
    credential: Any,
    timeout: float = DEFAULT_TIMEOUT,
    logging_enable: bool = False,
) -> ContainerClient:
    service = build_blob_service(
        account_url=account_url,
        connection_string=connection_string,
        credential=credential,
        what="reports storage (ROTATION_REPORTS_ACCOUNT_URL)",
        timeout=timeout,
        logging_enable=logging_enable,
    )
    return service.get_container_client(container)


class BlobReportStore:
    def __init__(self, container: ContainerClient, content_type: Callable[[str], str]) -> None:
        """`content_type`: of a file by its path inside the run folder (`rotation.audit.report.files`)."""
        self._container = container
        self._content_type = content_type
        self.location = f"{container.url}/{PREFIX}"

    def close(self) -> None:
        self._container.close()

    def publish(self, run_dir: Path) -> list[str]:
        """Uploads every file of the run folder, subfolders too (a large fleet's `apps/` pages), named by
        their path inside it; returns the blob names."""
        names = []
        ensure_container(self._container, "reports")
        for file in sorted(p for p in run_dir.rglob("*") if p.is_file()):
            relative = file.relative_to(run_dir).as_posix()
            name = f"{PREFIX}{run_dir.name}/{relative}"
            settings = ContentSettings(content_type=self._content_type(relative))
            try:
                with file.open("rb") as data:
                    self._container.upload_blob(name, data, overwrite=False, content_settings=settings)
            except ResourceExistsError:
                raise ServiceError(
                    f"upload {name}: got an existing blob, expected a new name (reports are written once)"
                ) from None
            except AzureError as exc:
                raise storage_error(f"upload {name}", exc) from None
            names.append(name)
        return names

    def run_ids(self, file_name: str, before: str) -> list[str]:
        """Stored runs older than `before` that hold `file_name`, oldest first (run ids sort by time)."""
        try:
            return sorted(
                {
                    b.name[len(PREFIX) :].split("/", 1)[0]
                    for b in self._container.list_blobs(name_starts_with=PREFIX)
                    if b.name.endswith("/" + file_name) and b.name[len(PREFIX) :].split("/", 1)[0] < before
                }
            )
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            raise storage_error("list the stored audit runs", exc) from None

    def read_json(self, run_id: str, file_name: str) -> Any | None:
        """Parsed JSON of one stored run's file; None when the run has no such file."""
        try:
            data = self._container.download_blob(f"{PREFIX}{run_id}/{file_name}").readall()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_error(f"read audit run {run_id}", exc) from None
        return json.loads(data)

    def read_lines(self, run_id: str, file_name: str) -> Iterator[str] | None:
        """One stored run's text file line by line, downloaded in chunks (a fleet's OCSF file is hundreds of
        MB: never read whole); None when the run has no such file."""
        try:
            downloader = self._container.download_blob(f"{PREFIX}{run_id}/{file_name}")
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_error(f"read audit run {run_id}", exc) from None
        return self._lines(run_id, downloader.chunks())

    @staticmethod
    def _lines(run_id: str, chunks: Iterator[bytes]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        pending = ""
        try:
            for chunk in chunks:
                pending += decoder.decode(chunk)
                *lines, pending = pending.split("\n")
                yield from lines
        except AzureError as exc:
            raise storage_error(f"read audit run {run_id}", exc) from None
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending

    def latest(self, file_name: str, before: str) -> tuple[str, Any] | None:
        """(run id, parsed JSON of `file_name`) of the newest stored run older than `before`, if any."""
        try:
            runs = sorted(
                {
                    b.name[len(PREFIX) :].split("/", 1)[0]
                    for b in self._container.list_blobs(name_starts_with=PREFIX)
                    if b.name.endswith("/" + file_name)
                }
            )
            older = [r for r in runs if r < before]
            if not older:
                return None
            data = self._container.download_blob(f"{PREFIX}{older[-1]}/{file_name}").readall()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_error("read the previous audit run", exc) from None
        return older[-1], json.loads(data)
