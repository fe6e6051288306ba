"""Key Vault secrets through the real `SecretClient`: versions with tags and `expires_on`, a staging
secret, tag updates and disabling — never delete-and-recreate (soft delete keeps a deleted name for up to
90 days and a re-create answers 409).

`verify_challenge_resource=False` is passed only for loopback vault URLs (the sandbox): the SDK checks
that the vault host ends with the challenge's resource domain, which no 127.0.0.1 URL can satisfy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient, SecretProperties

from rotation.adapters.http import check_base_url, is_loopback_host
from rotation.errors import AuthError, IncompleteListingError, ServiceError
from rotation.model import SecretVersion
from rotation.secret import Secret


def build_secret_client(vault_url: str, credential: Any, *, ca_bundle: str | None = None) -> SecretClient:
    url = check_base_url(vault_url, "vault URL")
    loopback = is_loopback_host(urlsplit(url).hostname or "")
    kwargs: dict[str, Any] = {"retry_total": 4, "retry_backoff_factor": 0.2}
    if ca_bundle:
        kwargs["connection_verify"] = ca_bundle
    if loopback:
        kwargs["verify_challenge_resource"] = False
    return SecretClient(url, credential, **kwargs)


def _version(props: SecretProperties) -> SecretVersion:
    return SecretVersion(
        name=str(props.name),
        version=str(props.version),
        created_on=props.created_on or datetime.fromtimestamp(0, UTC),
        enabled=bool(props.enabled),
        expires_on=props.expires_on,
        tags=dict(props.tags or {}),
    )


def _service_error(what: str, exc: AzureError) -> ServiceError:
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    code = exc.error.code if isinstance(exc, HttpResponseError) and exc.error else None
    message = f"{what}: got {'HTTP ' + str(status) if status else type(exc).__name__} {code or ''}".strip()
    if status in (401, 403):
        return AuthError(message, status=status, code=code)
    return ServiceError(message, status=status, code=code)


class KeyVaultSecrets:
    def __init__(self, client: SecretClient) -> None:
        self._client = client
        self.vault_url = client.vault_url

    def close(self) -> None:
        self._client.close()

    def list_versions(self, name: str) -> list[SecretVersion]:
        return self.read_versions(name) or []

    def read_versions(self, name: str) -> list[SecretVersion] | None:
        try:
            versions = [_version(p) for p in self._client.list_properties_of_secret_versions(name)]
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise IncompleteListingError(str(_service_error(f"list versions of {name}", exc))) from None
        return sorted(versions, key=lambda v: (v.created_on, v.version))

    def get_value(self, name: str, version: str | None = None) -> Secret:
        try:
            secret = self._client.get_secret(name, version)
        except AzureError as exc:
            raise _service_error(f"get {name}/{version or 'latest'}", exc) from None
        if not secret.value:
            raise ServiceError(f"get {name}: got an empty value, expected a token")
        return Secret(secret.value)

    def set_value(self, name: str, value: Secret, *, tags: Mapping[str, str], expires_on: datetime | None,
                  content_type: str) -> SecretVersion:
        try:
            secret = self._client.set_secret(name, value.reveal(), tags=dict(tags), expires_on=expires_on,
                                             content_type=content_type)
        except AzureError as exc:
            raise _service_error(f"set {name}", exc) from None
        return _version(secret.properties)

    def update(self, name: str, version: str, *, tags: Mapping[str, str] | None = None,
               enabled: bool | None = None) -> SecretVersion:
        kwargs: dict[str, Any] = {}
        if tags is not None:
            kwargs["tags"] = dict(tags)
        if enabled is not None:
            kwargs["enabled"] = enabled
        try:
            props = self._client.update_secret_properties(name, version, **kwargs)
        except AzureError as exc:
            raise _service_error(f"update {name}/{version}", exc) from None
        return _version(props)
