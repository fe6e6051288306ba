"""The Functions host's own storage account (AzureWebJobsStorage), read the way the Functions runtime reads
it, so that the per-app leases and the fan-out queue live where the host already has access:

| setting | meaning |
|---|---|
| AzureWebJobsStorage | a connection string (Azurite locally, `UseDevelopmentStorage=true` included) |
| AzureWebJobsStorage__accountName | identity-based: endpoints https://NAME.blob/queue.core.windows.net |
| AzureWebJobsStorage__blobServiceUri, __queueServiceUri | identity-based with explicit endpoints (other clouds) |
| AzureWebJobsStorage__credential | `managedidentity` (the only identity kind the service accepts here) |
| AzureWebJobsStorage__clientId | user-assigned identity for storage; unset = the runtime's credential |

Pure parsing: no SDK import, so `Settings.from_env` stays cheap at cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rotation.domain.values import check_base_url
from rotation.errors import ConfigError

PREFIX = "AzureWebJobsStorage"


@dataclass(frozen=True)
class HostStorage:
    connection_string: str | None = field(default=None, repr=False)
    blob_url: str | None = None
    queue_url: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HostStorage | None:
        """None when the host storage is not configured (local CLI runs: file locks, inline only)."""
        connection = env.get(PREFIX) or None
        account = env.get(f"{PREFIX}__accountName") or None
        blob = env.get(f"{PREFIX}__blobServiceUri") or None
        queue = env.get(f"{PREFIX}__queueServiceUri") or None
        if connection:
            if "=" not in connection:
                raise ConfigError(
                    f"{PREFIX}: got a value without 'key=value' pairs, expected a storage "
                    "connection string (or use AzureWebJobsStorage__accountName)"
                )
            return cls(connection_string=connection)
        if not (account or blob or queue):
            return None
        credential = env.get(f"{PREFIX}__credential") or "managedidentity"
        if credential.lower() != "managedidentity":
            raise ConfigError(f"{PREFIX}__credential: got {credential!r}, expected managedidentity")
        if account and not account.isalnum():
            raise ConfigError(
                f"{PREFIX}__accountName: got {account!r}, expected a storage account name "
                "(3-24 lowercase letters and digits)"
            )
        blob = blob or (f"https://{account}.blob.core.windows.net" if account else None)
        queue = queue or (f"https://{account}.queue.core.windows.net" if account else None)
        return cls(
            blob_url=check_base_url(blob, f"{PREFIX}__blobServiceUri") if blob else None,
            queue_url=check_base_url(queue, f"{PREFIX}__queueServiceUri") if queue else None,
            client_id=env.get(f"{PREFIX}__clientId") or None,
        )

    @property
    def has_blob(self) -> bool:
        return bool(self.connection_string or self.blob_url)

    @property
    def has_queue(self) -> bool:
        return bool(self.connection_string or self.queue_url)
