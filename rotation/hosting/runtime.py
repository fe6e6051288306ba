"""The one place adapters are built: credential, HTTP client, Key Vault clients, IoT Central clients and
the clock. Nothing here runs at import time (cold start of the Function app stays cheap)."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from rotation.adapters.http import RateLimiter, check_base_url, is_loopback_host, shared_rate_limiter
from rotation.adapters.identity import SharedCredential
from rotation.adapters.iotcentral import SCOPE, IoTCentralClient
from rotation.adapters.iottly import IottlyClient
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.adapters.sdk import timeouts
from rotation.domain.events import ManualEvent
from rotation.domain.model import AppSpec, IottlyAppSpec, SlotState
from rotation.domain.secret import Secret
from rotation.engine.jobs import READS_PER_APP
from rotation.engine.ports import AppLock
from rotation.errors import ConfigError
from rotation.hosting.config import Settings

if TYPE_CHECKING:  # the storage SDK (~0.4 s to import) only when a method builds a storage client
    from azure.storage.blob import BlobServiceClient

    from rotation.adapters.blobstore import BlobReportStore
    from rotation.adapters.locks import BlobLeaseLocks, FileLocks, LeaseOptions
    from rotation.adapters.storage import MessageQueue
    from rotation.hosting.fanout import PoisonEntry


def all_loopback(apps: Sequence[AppSpec | IottlyAppSpec]) -> bool:
    urls = [u for app in apps for u in (app.base_url, app.vault)]
    return bool(urls) and all(is_loopback_host(urlsplit(u).hostname or "") for u in urls)


def build_credential(settings: Settings) -> Any:
    """Managed identity in Azure (user-assigned when AZURE_CLIENT_ID is set), DefaultAzureCredential elsewhere."""
    if settings.client_id:
        return ManagedIdentityCredential(client_id=settings.client_id, **identity_timeouts(settings))
    if os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("MSI_ENDPOINT"):
        return ManagedIdentityCredential(**identity_timeouts(settings))
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def identity_timeouts(settings: Settings) -> dict[str, Any]:
    """The identity endpoint gets the same bounded wait as every other client (a hung endpoint would
    otherwise hold a run for minutes): azure-identity hands these to its transport."""
    return {"connection_timeout": min(5.0, settings.http_timeout), "read_timeout": settings.http_timeout}


@dataclass
class Runtime:
    settings: Settings
    apps: Sequence[AppSpec]
    credential: Any = None
    iottly_apps: Sequence[IottlyAppSpec] = ()
    _http: httpx.Client | None = None
    _vaults: dict[str, KeyVaultSecrets] = field(default_factory=dict)
    _limiter: RateLimiter | None = None
    lease_options: LeaseOptions | None = None
    """The blob leases' timings; None: `LeaseOptions()`."""
    _locks: BlobLeaseLocks | FileLocks | None = None
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _build: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """Held while the shared clients are built (credential, HTTP client, vault clients), each once."""

    def __post_init__(self) -> None:
        for app in self.apps:
            check_base_url(app.base_url, f"app {app.name} base URL")
            check_base_url(app.vault, f"app {app.name} vault")
        for iottly in self.iottly_apps:
            check_base_url(iottly.base_url, f"app {iottly.name} base URL")
            check_base_url(iottly.vault, f"app {iottly.name} vault")
        if self.settings.clock_offset and not all_loopback([*self.apps, *self.iottly_apps]):
            raise ConfigError(
                "ROTATION_CLOCK_OFFSET: got a clock offset with non-loopback endpoints, "
                "expected it only against the sandbox's loopback emulators"
            )
        self._limiter = shared_rate_limiter(self.settings.rate_limit)  # per app, for the whole process

    def now(self) -> datetime:
        """Real time; plus the configured offset only in the sandbox (checked in __post_init__)."""
        return datetime.now(UTC) + self.settings.clock_offset

    @property
    def clock_offset(self) -> timedelta:
        return self.settings.clock_offset

    def credential_object(self) -> Any:
        return self._cred()

    def _cred(self) -> SharedCredential:
        """The one credential of the process (built, or injected, then wrapped once): every client shares
        its token cache, so N threads starting together make one identity request per scope."""
        shared = self.credential
        if isinstance(shared, SharedCredential):
            return shared
        with self._build:
            if not isinstance(self.credential, SharedCredential):
                inner = self.credential if self.credential is not None else build_credential(self.settings)
                self.credential = SharedCredential(inner)
            return self.credential

    def http(self) -> httpx.Client:
        """One httpx client for every IoT Central and iottly call, built once; its pool holds a connection
        per thread of a job (`threads`), so no thread waits for one nor opens one to throw it away."""
        if self._http is not None:
            return self._http
        with self._build:
            if self._http is None:
                verify: ssl.SSLContext | bool = True
                if self.settings.ca_bundle:
                    verify = ssl.create_default_context(cafile=self.settings.ca_bundle)
                connect, read = timeouts(self.settings.http_timeout)
                self._http = httpx.Client(
                    verify=verify,
                    timeout=httpx.Timeout(read, connect=connect),
                    limits=httpx.Limits(max_connections=max(32, self.threads)),
                    trust_env=False,
                    follow_redirects=False,
                )
            return self._http

    @property
    def threads(self) -> int:
        """The most threads a job runs at once (`engine.jobs`): every connection pool holds that many."""
        return self.settings.max_concurrency * (1 + READS_PER_APP)

    def iotcentral(self, app: AppSpec) -> IoTCentralClient:
        if app.api_token_slot is None:
            return IoTCentralClient(app.base_url, self.http(), credential=self._cred(), limiter=self._limiter)
        return IoTCentralClient(app.base_url, self.http(), api_token=self._api_token(app), limiter=self._limiter)

    def _api_token(self, app: AppSpec) -> Secret:
        """The current version of the app's self-rotating admin token slot (no managed identity)."""
        slot = next(s for s in app.slots if s.slot == app.api_token_slot)
        vault = self.vault(app.vault)
        current = SlotState(tuple(vault.list_versions(slot.secret))).current
        if current is None:
            raise ConfigError(
                f"api_token_slot {slot.slot!r} of {app.name}: got no current token in {slot.secret}, "
                f"expected one: run `rotation bootstrap --app {app.name} --api-token-slot {slot.slot}`"
            )
        return vault.get_value(slot.secret, current.version)

    def report_store(self) -> BlobReportStore | None:
        """Blob storage for audit runs when configured (managed identity, or a connection string locally)."""
        settings = self.settings
        if not (settings.reports_account_url or settings.reports_connection_string):
            return None
        from rotation.adapters.blobstore import BlobReportStore, build_container_client  # noqa: PLC0415 -- storage SDK
        from rotation.audit.report.files import content_type  # noqa: PLC0415 -- jinja2 only when the audit runs

        container = build_container_client(
            settings.reports_container,
            account_url=settings.reports_account_url,
            connection_string=settings.reports_connection_string,
            credential=None if settings.reports_connection_string else self._cred(),
            timeout=settings.http_timeout,
            logging_enable=self.sdk_logging,
        )
        return BlobReportStore(container, content_type)

    @property
    def sdk_logging(self) -> bool:
        """The Azure SDKs' HTTP logging at DEBUG only (`--debug`); telemetry redacts what it prints."""
        return self.settings.log_level == "DEBUG"

    def app_lock(self, app_name: str) -> AppLock:
        """The app's lock: a blob lease in the host storage account when AzureWebJobsStorage is configured
        (Azure, or Azurite locally), else a file lock in the per-user state folder (`ROTATION_STATE_DIR`: a
        local CLI run)."""
        from rotation.adapters.locks import BlobLeaseLocks, FileLocks, LeaseOptions  # noqa: PLC0415 -- storage SDK

        with self._guard:
            if self._locks is None:
                host = self.settings.host_storage
                if host is not None and host.has_blob:
                    container = self.host_blob_service().get_container_client(self.settings.lease_container)
                    self._locks = BlobLeaseLocks(container, self.lease_options or LeaseOptions())
                else:
                    self._locks = FileLocks(self.settings.state_dir / "locks")
            if isinstance(self._locks, FileLocks):
                scope = next((app.base_url for app in self.apps if app.name == app_name), "")
                return self._locks.lock(app_name, scope)
            return self._locks.lock(app_name)

    def _host_credential(self) -> Any:
        host = self.settings.host_storage
        if host is not None and host.client_id:  # AzureWebJobsStorage__clientId: the host's own identity
            return ManagedIdentityCredential(client_id=host.client_id, **identity_timeouts(self.settings))
        return self._cred()

    def host_blob_service(self) -> BlobServiceClient:
        """The host storage's Blob service (leases); a ConfigError when it is not configured."""
        host = self.settings.host_storage
        from rotation.adapters.blobstore import build_blob_service  # noqa: PLC0415 -- storage SDK when used

        what = "host storage (AzureWebJobsStorage)"
        if host is not None and host.connection_string:
            return build_blob_service(
                account_url=None,
                connection_string=host.connection_string,
                credential=None,
                what=what,
                timeout=self.settings.http_timeout,
                logging_enable=self.sdk_logging,
            )
        if host is None or host.blob_url is None:
            raise ConfigError(
                "AzureWebJobsStorage: got no blob endpoint, expected a connection string or "
                "AzureWebJobsStorage__accountName / __blobServiceUri"
            )
        return build_blob_service(
            account_url=host.blob_url,
            connection_string=None,
            credential=self._host_credential(),
            what=what,
            timeout=self.settings.http_timeout,
            logging_enable=self.sdk_logging,
        )

    def host_queue(self, name: str, *, decode: bool = True) -> MessageQueue:
        """A queue of the host storage, base64 text as the Functions queue trigger reads and writes it
        (`decode=False`: contents as stored, for reading messages that someone else may have written)."""
        from rotation.adapters.storage import build_queue_client  # noqa: PLC0415 -- storage SDK when used

        host = self.settings.host_storage
        if host is not None and host.connection_string:
            return build_queue_client(
                name,
                queue_url=None,
                connection_string=host.connection_string,
                credential=None,
                decode=decode,
                timeout=self.settings.http_timeout,
                logging_enable=self.sdk_logging,
            )
        if host is None or host.queue_url is None:
            raise ConfigError(
                "AzureWebJobsStorage: got no queue endpoint, expected a connection string or "
                "AzureWebJobsStorage__accountName / __queueServiceUri"
            )
        return build_queue_client(
            name,
            queue_url=host.queue_url,
            connection_string=None,
            credential=self._host_credential(),
            decode=decode,
            timeout=self.settings.http_timeout,
            logging_enable=self.sdk_logging,
        )

    def admin_iotcentral(self, base_url: str, token: Secret) -> IoTCentralClient:
        """An app called with a one-off admin token (bootstrap, store-api-token): `engine.ports.Connections`."""
        return IoTCentralClient(base_url, self.http(), api_token=token)

    def identity_token(self) -> str:
        """This service's own access token for IoT Central (its claims name the identity)."""
        return str(self.credential_object().get_token(SCOPE).token)

    def manual_events(self, since: datetime) -> list[ManualEvent]:
        """The manual-action events of this runtime's apps since `since` (`rotation.hosting.manual`)."""
        from rotation.hosting import manual  # noqa: PLC0415 -- its event log imports the storage SDK

        names = [a.name for a in self.apps] + [a.name for a in self.iottly_apps]
        return manual.read_events(self, since, names)

    def poison_entries(self) -> list[PoisonEntry]:
        """What sits in the fan-out's poison queue (peeked, never removed); see `rotation.hosting.fanout`."""
        from rotation.hosting.fanout import poison_entries  # noqa: PLC0415 -- azure-storage-queue only with the fan-out

        return poison_entries(self)

    def iottly(self, base_url: str) -> IottlyClient:
        return IottlyClient(base_url, self.http())

    def vault(self, url: str) -> KeyVaultSecrets:
        """The vault's one client, built once: one SecretClient per vault is one Key Vault challenge per
        vault (its `FirstRequestGate` holds the other first requests), and one connection pool sized for the
        job's threads (`max_concurrency` apps x `1 + READS_PER_APP`)."""
        found = self._vaults.get(url)
        if found is not None:
            return found
        with self._build:
            if url not in self._vaults:
                client = build_secret_client(
                    url,
                    self._cred(),
                    ca_bundle=self.settings.ca_bundle,
                    timeout=self.settings.http_timeout,
                    logging_enable=self.sdk_logging,
                    connections=self.threads,
                )
                self._vaults[url] = KeyVaultSecrets(client)
            return self._vaults[url]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        for vault in self._vaults.values():
            vault.close()
        if self._locks is not None:
            self._locks.close()
