"""Key Vault secrets through the real `SecretClient`: versions with tags and `expires_on`, a staging
secret, tag updates and disabling — never delete-and-recreate (soft delete keeps a deleted name for up to
90 days and a re-create answers 409).

Nothing is believed unchecked: the client follows no redirect, sends nothing to another origin
(`SameOriginPolicy`, nextLink pages included), refuses answers that are not strictly what the API
defines (`KeyVaultWirePolicy`), and every version is checked again here before it becomes a
`SecretVersion` (its vault, its name, a version id, a creation date). Every failure becomes a
`RotationError`, never with the SDK's text (a `DecodeError` quotes the body, which may be a value).

Retries (azure-core `RetryPolicy`, 4 retries): GET and PUT are retried on 408/429/500/502/503/504, on
connect errors and on read errors; PATCH, which azure-core retries only on a 500/503/504 answer, is given
the same treatment (`retry_on_methods`): an update sets absolute tags and `enabled`, so repeating it is
harmless. A PUT (SetSecret) retried after the service applied it makes a second version with the same
value and tags; that is allowed on purpose: the alternative, failing, either deletes a freshly minted
token or leaves a rotation half done, whereas the planner already treats an older duplicate `current` as
a crash leftover and a `pending` whose token is current as a finished promotion.

`verify_challenge_resource=False` is passed only for loopback vault URLs (the sandbox): the SDK checks
that the vault host ends with the challenge's resource domain, which no 127.0.0.1 URL can satisfy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient, SecretProperties

from rotation.adapters.errors import sdk_error
from rotation.adapters.http import check_base_url, is_loopback_host
from rotation.adapters.keyvault_wire import KeyVaultWirePolicy
from rotation.adapters.origin import Origin, SameOriginPolicy
from rotation.adapters.retries import RetryLogPolicy
from rotation.adapters.sdk import (
    DEFAULT_TIMEOUT,
    FirstRequestGate,
    RedactedTraceLoggingPolicy,
    client_options,
    pooled_transport,
)
from rotation.adapters.tls import certificate_hint
from rotation.adapters.vault_limits import SHARED, VaultRateLimiter, VaultRatePolicy
from rotation.domain.model import SecretVersion
from rotation.domain.secret import Secret
from rotation.errors import IncompleteListingError, InvalidVersionError, ServiceError

RETRY_ON_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"})
SDK_ERRORS = (AzureError, ValueError, TypeError, AttributeError, KeyError)
"""What the SDK raises on an answer it cannot use (its deserializer raises plain ValueError and friends)."""


def build_secret_client(
    vault_url: str,
    credential: Any,
    *,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    logging_enable: bool = False,
    connections: int = 10,
    vault_limiter: VaultRateLimiter = SHARED,
) -> SecretClient:
    """The service's SecretClient. `connections`: how many threads may use it at once (its connection pool);
    every attempt waits for its slot in the vault's budget (`vault_limits`: the process-wide `SHARED` one
    unless a test brings its own)."""
    url = check_base_url(vault_url, "vault URL")
    loopback = is_loopback_host(urlsplit(url).hostname or "")
    kwargs: dict[str, Any] = {
        "retry_total": 4,
        "retry_backoff_factor": 0.2,
        **client_options(timeout),
        "transport": pooled_transport(timeout, connections=connections, verify=ca_bundle or True),
        "per_call_policies": [FirstRequestGate()],
        "per_retry_policies": [
            RetryLogPolicy(f"vault {url}"),
            SameOriginPolicy(url, f"vault {url}"),
            KeyVaultWirePolicy(f"vault {url}"),
            VaultRatePolicy(vault_limiter),
        ],
        "logging_policy": RedactedTraceLoggingPolicy(logging_enable),
    }
    if loopback:
        kwargs["verify_challenge_resource"] = False
    return SecretClient(url, credential, **kwargs)


def _version(props: SecretProperties, name: str, vault: Origin) -> SecretVersion:
    what = f"secret {name}"
    if not isinstance(props.version, str) or not props.version:
        raise InvalidVersionError(f"{what}: got a version without a version id, expected one")
    if not isinstance(props.name, str) or props.name.lower() != name.lower():
        raise InvalidVersionError(f"{what}/{props.version}: got a version of secret {props.name!r}, expected {name}")
    if Origin.of(str(props.vault_url)) != vault:
        raise InvalidVersionError(f"{what}/{props.version}: got a version of another vault, expected {vault}")
    created = props.created_on
    if not isinstance(created, datetime) or created.tzinfo is None:
        raise InvalidVersionError(f"{what}/{props.version}: got no creation date, expected one")
    if not isinstance(props.enabled, bool):
        raise InvalidVersionError(f"{what}/{props.version}: got no enabled flag, expected true or false")
    tags = props.tags or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidVersionError(f"{what}/{props.version}: got tags that are not strings, expected strings")
    return SecretVersion(
        name=props.name,
        version=props.version,
        created_on=created,
        enabled=props.enabled,
        expires_on=props.expires_on,
        tags=dict(tags),
    )


def _service_error(what: str, exc: BaseException, host: str | None = None) -> ServiceError:
    """The RotationError for an SDK failure: its status and code only, never its message."""
    if hint := certificate_hint(exc, host):
        return ServiceError(f"{what}: {hint}")
    return sdk_error(what, exc)


def _secret_not_found(exc: ResourceNotFoundError) -> bool:
    """A 404 that says "no such secret" (a 404 from anything else, say a proxy, proves nothing)."""
    return exc.error is not None and exc.error.code == "SecretNotFound"


class KeyVaultSecrets:
    def __init__(self, client: SecretClient) -> None:
        self._client = client
        self.vault_url = client.vault_url
        self._origin = Origin.of(client.vault_url)
        self._host = f"{self._origin.host}:{self._origin.port}"  # named in a certificate failure

    def close(self) -> None:
        self._client.close()

    def list_versions(self, name: str) -> list[SecretVersion]:
        """Every version, oldest first; [] when the service lists none (the secret does not exist: the
        service lists no versions for an unknown name). `read_versions` makes sure of it."""
        return self._list(name) or []

    def read_versions(self, name: str) -> list[SecretVersion] | None:
        """Every version, oldest first; None only on positive evidence that the secret does not exist.

        The service lists no versions for an unknown name (a 200 with an empty page), which is also what a
        broken listing could look like; an empty listing is therefore confirmed with a GetSecret, whose 404
        SecretNotFound says "no such secret". Anything doubtful (a failed, foreign, partial or mistyped
        answer, or an empty listing of a secret that exists) is an `IncompleteListingError`."""
        versions = self._list(name)
        if versions is None or versions:
            return versions
        self.confirm_absent(name)
        return None

    def confirm_absent(self, name: str) -> None:
        """A GetSecret answering 404 SecretNotFound, or an `IncompleteListingError`."""
        what = f"list versions of {name}"
        try:
            self._client.get_secret(name)
        except ResourceNotFoundError as exc:
            if _secret_not_found(exc):
                return
            raise IncompleteListingError(f"{_service_error(what, exc)} (listing incomplete)", status=404) from None
        except (*SDK_ERRORS, ServiceError) as exc:
            raise IncompleteListingError(
                f"{what}: got no versions and could not confirm the secret is absent "
                f"({_service_error('get it', exc, self._host)})"
            ) from None
        raise IncompleteListingError(f"{what}: got no versions of a secret that exists, expected its versions")

    def _list(self, name: str) -> list[SecretVersion] | None:
        what = f"list versions of {name}"
        try:
            versions = [_version(p, name, self._origin) for p in self._client.list_properties_of_secret_versions(name)]
        except ResourceNotFoundError as exc:
            if _secret_not_found(exc):
                return None
            raise IncompleteListingError(f"{_service_error(what, exc)} (listing incomplete)", status=404) from None
        except (*SDK_ERRORS, ServiceError) as exc:
            error = _service_error(what, exc, self._host)
            raise IncompleteListingError(
                f"{error} (listing incomplete)", status=error.status, code=error.code
            ) from None
        return sorted(versions, key=lambda v: (v.created_on, v.version))

    def get_value(self, name: str, version: str | None = None) -> Secret:
        what = f"get {name}/{version or 'latest'}"
        try:
            secret = self._client.get_secret(name, version)
            checked = _version(secret.properties, name, self._origin)
        except (*SDK_ERRORS, ServiceError) as exc:
            raise _service_error(what, exc, self._host) from None
        if version is not None and checked.version != version:
            raise ServiceError(f"{what}: got version {checked.version}, expected {version}")
        if not isinstance(secret.value, str) or not secret.value:
            raise ServiceError(f"{what}: got an empty value, expected a token")
        return Secret(secret.value)

    def set_value(
        self, name: str, value: Secret, *, tags: Mapping[str, str], expires_on: datetime | None, content_type: str
    ) -> SecretVersion:
        try:
            secret = self._client.set_secret(
                name, value.reveal(), tags=dict(tags), expires_on=expires_on, content_type=content_type
            )
            return _version(secret.properties, name, self._origin)
        except (*SDK_ERRORS, ServiceError) as exc:
            raise _service_error(f"set {name}", exc, self._host) from None

    def update(
        self, name: str, version: str, *, tags: Mapping[str, str] | None = None, enabled: bool | None = None
    ) -> SecretVersion:
        kwargs: dict[str, Any] = {"retry_on_methods": RETRY_ON_METHODS}
        if tags is not None:
            kwargs["tags"] = dict(tags)
        if enabled is not None:
            kwargs["enabled"] = enabled
        what = f"update {name}/{version}"
        try:
            checked = _version(self._client.update_secret_properties(name, version, **kwargs), name, self._origin)
        except (*SDK_ERRORS, ServiceError) as exc:
            raise _service_error(what, exc, self._host) from None
        if checked.version != version:
            raise ServiceError(f"{what}: got version {checked.version}, expected {version}")
        return checked
