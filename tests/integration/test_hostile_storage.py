"""The storage clients (report blobs, lease blobs, fan-out queue) follow no redirect and send nothing to
another origin. The storage account is played by a recording stand-in on loopback (Azurite cannot be made
to redirect); the redirect points at a second one, which must receive nothing: no request, so neither the
shared-key signature nor the uploaded body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from emulators.core import Fault, serve
from rotation.adapters.blobstore import BlobReportStore, build_container_client
from rotation.adapters.locks import BlobLeaseLocks
from rotation.errors import AuthError, ServiceError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.hostile_support import ForeignServer, nothing_reached

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's


class Storage:
    def __init__(self, account: ForeignServer, account_url: str, foreign: ForeignServer, foreign_url: str) -> None:
        self.account = account
        self.account_url = account_url
        self.foreign = foreign
        self.foreign_url = foreign_url

    @property
    def connection_string(self) -> str:
        endpoint = f"{self.account_url}/{ACCOUNT}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={endpoint};QueueEndpoint={endpoint};"
        )

    def redirect(self, method: str) -> None:
        self.account.faults.add(
            Fault("redirect", route=f"foreign.{method}", status=307, location=f"{self.foreign_url}/{ACCOUNT}/elsewhere")
        )


@pytest.fixture
def storage() -> Iterator[Storage]:
    account, foreign = ForeignServer("Bearer"), ForeignServer("Bearer")
    account.status = 201  # what a create or an upload answers
    with serve(account) as account_url, serve(foreign) as foreign_url:
        yield Storage(account, account_url, foreign, foreign_url)


def container(storage: Storage) -> BlobReportStore:
    client = build_container_client(
        "reports", account_url=None, connection_string=storage.connection_string, credential=None
    )
    return BlobReportStore(client, lambda _: "application/octet-stream")


def test_a_redirected_report_upload_sends_nothing_elsewhere(storage: Storage, tmp_path: Path) -> None:
    run = tmp_path / "20261123T000000Z"
    run.mkdir()
    (run / "report.json").write_text('{"secret-looking": "report body"}', encoding="utf-8")
    storage.account.faults.add(
        Fault(
            "redirect",
            route="foreign.PUT",
            status=307,
            times=None,
            location=f"{storage.foreign_url}/{ACCOUNT}/elsewhere",
        )
    )
    with pytest.raises(ServiceError) as raised:
        container(storage).publish(run)
    assert nothing_reached(storage.foreign)
    assert "redirect, not followed" in str(raised.value)


def test_a_redirected_listing_sends_nothing_elsewhere(storage: Storage) -> None:
    storage.redirect("GET")
    with pytest.raises(ServiceError) as raised:
        container(storage).latest("report.json", before="99999999")
    assert nothing_reached(storage.foreign)
    assert "redirect, not followed" in str(raised.value)


def test_a_redirected_lease_sends_nothing_elsewhere(storage: Storage) -> None:
    client = build_container_client(
        "leases", account_url=None, connection_string=storage.connection_string, credential=None
    )
    storage.account.faults.add(
        Fault(
            "redirect",
            route="foreign.PUT",
            status=307,
            times=None,
            location=f"{storage.foreign_url}/{ACCOUNT}/elsewhere",
        )
    )
    with pytest.raises(ServiceError):
        BlobLeaseLocks(client).lock("contoso-fleet").try_acquire()
    assert nothing_reached(storage.foreign)


def test_a_redirected_queue_message_sends_nothing_elsewhere(storage: Storage) -> None:
    runtime = Runtime(Settings.from_env({"AzureWebJobsStorage": storage.connection_string}), apps=())
    storage.redirect("POST")
    with runtime.host_queue("rotation-apps") as queue, pytest.raises(HttpResponseError) as raised:
        queue.send_message('{"job": "rotate", "app": "contoso-fleet"}')
    assert nothing_reached(storage.foreign)
    assert raised.value.status_code == 307


def test_a_refused_storage_credential_is_the_same_auth_error_as_key_vaults(storage: Storage, tmp_path: Path) -> None:
    """One error mapper (rotation.adapters.errors): a 403 from Blob Storage is an AuthError, as from Key Vault,
    so callers and the summary treat a missing role assignment alike."""
    run = tmp_path / "20261123T000000Z"
    run.mkdir()
    (run / "report.json").write_text("{}", encoding="utf-8")
    storage.account.status = 403
    storage.account.answer = {"error": {"code": "AuthorizationPermissionMismatch", "message": "no role"}}
    with pytest.raises(AuthError, match="HTTP 403"):
        container(storage).publish(run)
