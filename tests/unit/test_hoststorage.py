"""AzureWebJobsStorage read as the Functions host reads it: a connection string, or identity-based settings
(account name, explicit service URIs, the identity's client id); anything else is one clear line."""

from __future__ import annotations

import pytest

from rotation.errors import UserError
from rotation.hosting.config import Settings
from rotation.hosting.hoststorage import HostStorage


def test_unset_means_local_runs() -> None:
    assert HostStorage.from_env({}) is None
    settings = Settings.from_env({})
    assert (settings.fanout, settings.queue, settings.lease_container) == ("inline", "rotation-apps", "rotation-leases")
    assert settings.host_storage is None


def test_a_connection_string_is_kept_out_of_repr() -> None:
    host = HostStorage.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert host is not None
    assert host.has_blob
    assert host.has_queue
    assert "UseDevelopmentStorage" not in repr(host)


def test_identity_based_settings() -> None:
    host = HostStorage.from_env(
        {
            "AzureWebJobsStorage__accountName": "sthost01",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
        }
    )
    assert host == HostStorage(
        blob_url="https://sthost01.blob.core.windows.net",
        queue_url="https://sthost01.queue.core.windows.net",
        client_id="00000000-0000-0000-0000-000000000001",
    )
    only_blob = HostStorage.from_env({"AzureWebJobsStorage__blobServiceUri": "https://h.blob.core.usgovcloudapi.net/"})
    assert only_blob is not None
    assert (only_blob.blob_url, only_blob.has_queue) == ("https://h.blob.core.usgovcloudapi.net", False)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AzureWebJobsStorage": "just-a-name"}, "AzureWebJobsStorage: got a value without 'key=value' pairs"),
        (
            {"AzureWebJobsStorage__accountName": "st", "AzureWebJobsStorage__credential": "connectionstring"},
            "AzureWebJobsStorage__credential: got 'connectionstring', expected managedidentity",
        ),
        ({"AzureWebJobsStorage__accountName": "st.evil/x"}, "AzureWebJobsStorage__accountName: got 'st.evil/x'"),
        (
            {"AzureWebJobsStorage__queueServiceUri": "http://st.queue.core.windows.net"},
            "AzureWebJobsStorage__queueServiceUri: got 'http://st.queue.core.windows.net', expected an https:// URL",
        ),
        (
            {"AzureWebJobsStorage__blobServiceUri": "https://h.blob", "ROTATION_FANOUT": "queue"},
            "ROTATION_FANOUT: got 'queue' without a queue endpoint",
        ),
        ({"ROTATION_LEASE_CONTAINER": "Leases"}, "ROTATION_LEASE_CONTAINER: got 'Leases', expected a blob container"),
    ],
)
def test_bad_settings_are_one_clear_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as bad:
        Settings.from_env(env)
    assert str(bad.value).startswith(message)
    assert "\n" not in str(bad.value)
