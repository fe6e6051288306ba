"""The one place adapters are built: credential, HTTP client, Key Vault clients, IoT Central clients and
the clock. Nothing here runs at import time (cold start of the Function app stays cheap)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from rotation.adapters.blobstore import BlobReportStore, build_container_client
from rotation.adapters.http import RateLimiter, check_base_url, is_loopback_host
from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.iottly import IottlyClient
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.config import Settings
from rotation.errors import ConfigError
from rotation.model import AppSpec, IottlyAppSpec, SlotState
from rotation.secret import Secret


def all_loopback(apps: Sequence[AppSpec | IottlyAppSpec]) -> bool:
    urls = [u for app in apps for u in (app.base_url, app.vault)]
    return bool(urls) and all(is_loopback_host(urlsplit(u).hostname or "") for u in urls)


def build_credential(settings: Settings) -> Any:
    """Managed identity in Azure (user-assigned when AZURE_CLIENT_ID is set), DefaultAzureCredential elsewhere."""
    if settings.client_id:
        return ManagedIdentityCredential(client_id=settings.client_id)
    if os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("MSI_ENDPOINT"):
        return ManagedIdentityCredential()
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


@dataclass
class Runtime:
    settings: Settings
    apps: Sequence[AppSpec]
    credential: Any = None
    iottly_apps: Sequence[IottlyAppSpec] = ()
    _http: httpx.Client | None = None
    _vaults: dict[str, KeyVaultSecrets] = field(default_factory=dict)
    _limiter: RateLimiter | None = None

    def __post_init__(self) -> None:
        for app in self.apps:
            check_base_url(app.base_url, f"app {app.name} base URL")
            check_base_url(app.vault, f"app {app.name} vault")
        for iottly in self.iottly_apps:
            check_base_url(iottly.base_url, f"app {iottly.name} base URL")
            check_base_url(iottly.vault, f"app {iottly.name} vault")
        if self.settings.clock_offset and not all_loopback([*self.apps, *self.iottly_apps]):
            raise ConfigError("ROTATION_CLOCK_OFFSET: got a clock offset with non-loopback endpoints, "
                              "expected it only against the sandbox's loopback emulators")
        self._limiter = RateLimiter(self.settings.rate_limit)

    def now(self) -> datetime:
        """Real time; plus the configured offset only in the sandbox (checked in __post_init__)."""
        return datetime.now(UTC) + self.settings.clock_offset

    @property
    def clock_offset(self) -> timedelta:
        return self.settings.clock_offset

    def credential_object(self) -> Any:
        return self._cred()

    def _cred(self) -> Any:
        if self.credential is None:
            self.credential = build_credential(self.settings)
        return self.credential

    def http(self) -> httpx.Client:
        if self._http is None:
            verify: ssl.SSLContext | bool = True
            if self.settings.ca_bundle:
                verify = ssl.create_default_context(cafile=self.settings.ca_bundle)
            self._http = httpx.Client(verify=verify, timeout=httpx.Timeout(15.0, connect=5.0),
                                      limits=httpx.Limits(max_connections=32), trust_env=False)
        return self._http

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
            raise ConfigError(f"api_token_slot {slot.slot!r} of {app.name}: got no current token in {slot.secret}, "
                              f"expected one: run `rotation bootstrap --app {app.name} --api-token-slot {slot.slot}`")
        return vault.get_value(slot.secret, current.version)

    def report_store(self) -> BlobReportStore | None:
        """Blob storage for audit runs when configured (managed identity, or a connection string locally)."""
        settings = self.settings
        if not (settings.reports_account_url or settings.reports_connection_string):
            return None
        from rotation.report.files import CONTENT_TYPES  # noqa: PLC0415 -- jinja2 only when the audit runs

        container = build_container_client(
            settings.reports_container, account_url=settings.reports_account_url,
            connection_string=settings.reports_connection_string,
            credential=None if settings.reports_connection_string else self._cred())
        return BlobReportStore(container, CONTENT_TYPES)

    def iottly(self, base_url: str) -> IottlyClient:
        return IottlyClient(base_url, self.http())

    def vault(self, url: str) -> KeyVaultSecrets:
        if url not in self._vaults:
            client = build_secret_client(url, self._cred(), ca_bundle=self.settings.ca_bundle)
            self._vaults[url] = KeyVaultSecrets(client)
        return self._vaults[url]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        for vault in self._vaults.values():
            vault.close()
