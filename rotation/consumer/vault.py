"""Reading a slot's current token from Key Vault with the consumer's own identity (Key Vault Secrets
User is enough): the latest version of the slot's secret, which is the version the service promoted last.

The client is built like the service's (rotation.adapters.keyvault) without its heavier dependencies: it
follows no redirect (azure-core would re-send the request, bearer included, elsewhere), sends nothing to
another origin (`SameOriginPolicy`), has explicit timeouts, and logs no header or body. Every failure
becomes a `RotationError` that names the status and code, never the SDK's text (which may quote a body).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from rotation.adapters.origin import Origin, SameOriginPolicy
from rotation.adapters.sdk import DEFAULT_TIMEOUT, RedactedTraceLoggingPolicy, client_options
from rotation.consumer.cache import CachedToken
from rotation.domain.secret import Secret
from rotation.domain.values import is_loopback_host
from rotation.errors import AuthError, ConfigError, NotFoundError, ServiceError

STAGE_TAG = "stage"
STAGE_CURRENT = "current"


def build_consumer_secret_client(
    vault_url: str, credential: Any, *, ca_bundle: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> SecretClient:
    """A `SecretClient` for `vault_url` (https://, or http:// to loopback only) with the service's safety
    options. `verify_challenge_resource` is turned off only for a loopback vault (the sandbox)."""
    parts = urlsplit(vault_url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or (parts.scheme == "http" and not is_loopback_host(host)):
        raise ConfigError(f"vault URL: got {parts.scheme}://{host}, expected an https:// URL")
    if parts.username is not None or parts.query or parts.fragment:
        raise ConfigError("vault URL: got user info, a query or a fragment, expected none")
    url = vault_url.rstrip("/")
    kwargs: dict[str, Any] = {
        "retry_total": 3,
        "retry_backoff_factor": 0.2,
        **client_options(timeout),
        "per_retry_policies": [SameOriginPolicy(url, f"vault {url}")],
        "logging_policy": RedactedTraceLoggingPolicy(),
    }
    if ca_bundle:
        kwargs["connection_verify"] = ca_bundle
    if is_loopback_host(host):
        kwargs["verify_challenge_resource"] = False
    return SecretClient(url, credential, **kwargs)


def _error(what: str, exc: BaseException) -> ServiceError:
    if isinstance(exc, ServiceError):  # ours, raised in the pipeline (a foreign origin)
        return exc
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    code = exc.error.code if isinstance(exc, HttpResponseError) and exc.error else None
    message = f"{what}: got {'HTTP ' + str(status) if status else type(exc).__name__} {code or ''}".strip()
    if isinstance(exc, ResourceNotFoundError):
        return NotFoundError(message + ", expected the slot's secret", status=status, code=code)
    if status in (401, 403) or (status is None and isinstance(exc, ClientAuthenticationError)):
        return AuthError(
            message + " (the consumer needs Key Vault Secrets User on the secret)", status=status, code=code
        )
    return ServiceError(message, status=status, code=code)


class KeyVaultTokenReader:
    """Reads the latest version of `secret` (callable: the `TokenCache`'s reader)."""

    def __init__(self, client: SecretClient, secret: str) -> None:
        self._client = client
        self.secret = secret
        self._origin = Origin.of(client.vault_url)

    def __call__(self) -> CachedToken:
        what = f"get {self.secret}/latest"
        try:
            got = self._client.get_secret(self.secret)
            props = got.properties
            value, version, enabled = got.value, props.version, props.enabled
            tags, expires_on, vault_url = props.tags or {}, props.expires_on, str(props.vault_url)
        except (AzureError, ServiceError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise _error(what, exc) from None
        if Origin.of(vault_url) != self._origin:
            raise ServiceError(f"{what}: got a version of another vault, expected {self._origin}")
        if not isinstance(version, str) or not version:
            raise ServiceError(f"{what}: got a version without an id, expected one")
        if enabled is False:
            raise ServiceError(f"{what}: got disabled version {version}, expected an enabled one")
        stage = tags.get(STAGE_TAG) if isinstance(tags, dict) else None
        if stage is not None and stage != STAGE_CURRENT:
            raise ServiceError(f"{what}: got version {version} tagged stage={stage!r}, expected {STAGE_CURRENT!r}")
        if not isinstance(value, str) or not value:
            raise ServiceError(f"{what}: got an empty value, expected a token")
        if expires_on is not None and not isinstance(expires_on, datetime):
            raise ServiceError(f"{what}: got an expiry that is not a date, expected one or none")
        return CachedToken(Secret(value), version, expires_on)
