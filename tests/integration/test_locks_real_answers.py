"""The lease lock against the answers real Blob Storage gives, which Azurite does not: creating the lease blob
while another run holds its lease is refused with `412 LeaseIdMissing` (Azurite answers 409, Azurite issue
#2637). A recording stand-in of the storage account on loopback plays the real answer, headers and XML body
as the Blob service documents them; the lock must read it as "held by another run", never as a failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.wrappers import Request, Response

from emulators.core import EmulatorApp, Route, serve
from rotation.adapters.blobstore import build_container_client
from rotation.adapters.locks import BlobLeaseLocks
from rotation.errors import ServiceError

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's
LEASE_ID_MISSING = "There is currently a lease on the blob and no lease ID was specified in the request."


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
        f"RequestId:5f0ec3a1-201e-0042-1c2b-3c9a5e000000\nTime:2026-12-01T23:00:00.0000000Z</Message></Error>"
    )
    return Response(
        body,
        status=status,
        content_type="application/xml",
        headers={
            "x-ms-error-code": code,
            "x-ms-version": "2025-01-05",
            "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
        },
    )


class LeasedAccount(EmulatorApp):
    """A storage account whose lease blob is leased by another run: the upload answers as real Azure does;
    `upload_status` switches to another answer (a 403) to check that a refusal is no skip."""

    name = "leased-account"

    def __init__(self) -> None:
        self.upload_status, self.upload_code = 412, "LeaseIdMissing"
        self.calls: list[str] = []
        self._lock = threading.Lock()
        super().__init__()

    def routes(self) -> list[Route]:
        return [Route("storage.put", "PUT", "/<path:rest>", self._put)]

    def _put(self, request: Request, rest: str) -> Response:
        kind = (
            "container"
            if request.args.get("restype") == "container"
            else "lease"
            if request.args.get("comp") == "lease"
            else "upload"
        )
        with self._lock:
            self.calls.append(kind)
        if kind == "container":
            return _storage_error(409, "ContainerAlreadyExists", "The specified container already exists.")
        if kind == "lease":
            return _storage_error(409, "LeaseAlreadyPresent", "There is already a lease present.")
        if self.upload_code == "LeaseIdMissing":
            return _storage_error(self.upload_status, self.upload_code, LEASE_ID_MISSING)
        return _storage_error(self.upload_status, self.upload_code, "The condition specified was not met.")


@pytest.fixture
def account() -> Iterator[tuple[LeasedAccount, BlobLeaseLocks]]:
    app = LeasedAccount()
    with serve(app) as url:
        endpoint = f"{url}/{ACCOUNT}"
        connection = f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={endpoint};"
        locks = BlobLeaseLocks(
            build_container_client("leases", account_url=None, connection_string=connection, credential=None)
        )
        yield app, locks
        locks.close()


def test_412_lease_id_missing_on_the_lease_blob_upload_is_held_by_another_run(
    account: tuple[LeasedAccount, BlobLeaseLocks],
) -> None:
    app, locks = account
    lock = locks.lock("contoso-fleet")
    assert lock.try_acquire() is False
    assert lock.lost is None
    assert app.calls == ["container", "upload"]  # held: no lease request, nothing to release
    lock.release()
    assert app.calls == ["container", "upload"]


def test_a_refused_lease_blob_upload_is_a_storage_failure_not_a_skip(
    account: tuple[LeasedAccount, BlobLeaseLocks],
) -> None:
    app, locks = account
    app.upload_code = "AuthenticationFailed"
    app.upload_status = 403
    with pytest.raises(ServiceError, match="create lease blob"):
        locks.lock("contoso-fleet").try_acquire()
