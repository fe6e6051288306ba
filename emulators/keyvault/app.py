"""One Azure Key Vault (secrets data plane) on loopback HTTPS, enough for the real `SecretClient` (sync and
aio) with the real `ManagedIdentityCredential`.

Route names are the operationIds of the vendored 7.6 spec so that every response is checked against it.
The SDK asks for the current version as `/secrets/{name}/` (an empty version segment), which the spec's
path template cannot express, so GetSecret and UpdateSecret have a second rule for it. Deletion and
recovery complete at once: the SDK's pollers see the final state on their first poll and never sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from werkzeug.wrappers import Request, Response

from emulators.core import Clock, EmulatorApp, Faults, HttpError, Route, SandboxAuthority, SandboxCA, serve
from emulators.core.http import json_response
from emulators.keyvault import errors, wire
from emulators.keyvault.access import VaultAccess
from emulators.keyvault.errors import KeyVaultHttpError
from emulators.keyvault.store import SecretVersion, VaultStore, check_name

DEFAULT_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the identity emulator's default tenant

OperationHandler = Callable[..., Response]


class KeyVaultEmulator(EmulatorApp):
    name = "keyvault"

    def __init__(
        self,
        authority: SandboxAuthority,
        *,
        vault_name: str = "kv-sandbox",
        tenant_id: str = DEFAULT_TENANT_ID,
        clock: Clock | None = None,
        faults: Faults | None = None,
        page_size: int = 25,
        purge_protection: bool = False,
        retention_days: int = 90,
    ) -> None:
        if not 1 <= page_size <= 25:
            raise ValueError(f"page_size: got {page_size}, expected 1..25 (the service's maxresults range)")
        self.vault_name = vault_name
        self.page_size = page_size
        self.vault_url: str | None = None
        super().__init__(clock=clock, faults=faults)
        self.store = VaultStore(
            self.clock, vault_name=vault_name, retention_days=retention_days, purge_protection=purge_protection
        )
        self.access = VaultAccess(authority, self.clock, tenant_id=tenant_id, vault_name=vault_name)

    # -- seeding and inspection (plain Python, no HTTP) ---------------------------------------------------------
    @property
    def purge_protection(self) -> bool:
        return self.store.purge_protection

    @purge_protection.setter
    def purge_protection(self, enabled: bool) -> None:
        self.store.purge_protection = enabled

    def grant(self, object_id: str, role: str) -> None:
        """Assign "officer" (Key Vault Secrets Officer) or "user" (Key Vault Secrets User) on this vault."""
        self.access.grant(object_id, role)

    def revoke(self, object_id: str) -> None:
        self.access.revoke(object_id)

    def seed_secret(
        self,
        name: str,
        value: str,
        *,
        tags: dict[str, str] | None = None,
        expires_on: datetime | None = None,
        enabled: bool = True,
        content_type: str | None = None,
        created_on: datetime | None = None,
        not_before: datetime | None = None,
    ) -> str:
        """Add a version as an earlier run would have (same limits as the API); returns its version id."""
        for label, when in (("expires_on", expires_on), ("created_on", created_on), ("not_before", not_before)):
            if when is not None and when.tzinfo is None:
                raise ValueError(f"{label}: got naive {when!r}, expected an aware datetime")
        try:
            record = self.store.set(
                name,
                value,
                enabled=enabled,
                not_before=not_before,
                expires_on=expires_on,
                content_type=content_type,
                tags=tags,
                created_on=created_on,
            )
        except KeyVaultHttpError as exc:
            raise ValueError(f"cannot seed secret {name!r}: {exc.message}") from None
        return record.version

    def soft_delete(self, name: str) -> None:
        """Put a secret in the deleted-but-recoverable state (a re-create then answers 409)."""
        try:
            self.store.delete(name)
        except KeyVaultHttpError as exc:
            raise ValueError(f"cannot delete secret {name!r}: {exc.message}") from None

    def versions(self, name: str) -> list[SecretVersion]:
        """Every version of a live secret, oldest first, values included; [] when there is none."""
        return self.store.versions(name)

    def secret_names(self) -> list[str]:
        return [secret.name for secret in self.store.secrets()]

    def is_deleted(self, name: str) -> bool:
        return self.store.is_deleted(name)

    @contextmanager
    def serve(self, ca: SandboxCA) -> Iterator[str]:
        """Serve this vault over HTTPS signed by `ca`; yields the vault URL."""
        with serve(self, tls=ca.server_context()) as url:
            self.vault_url = url
            try:
                yield url
            finally:
                self.vault_url = None

    # -- HTTP ------------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        get_secret = self._operation("GetSecret", self._get)
        update_secret = self._operation("UpdateSecret", self._update)
        return [
            Route("GetSecrets", "GET", "/secrets", self._operation("GetSecrets", self._list)),
            Route("SetSecret", "PUT", "/secrets/<name>", self._operation("SetSecret", self._set)),
            Route("DeleteSecret", "DELETE", "/secrets/<name>", self._operation("DeleteSecret", self._delete)),
            Route(
                "GetSecretVersions",
                "GET",
                "/secrets/<name>/versions",
                self._operation("GetSecretVersions", self._list_versions),
            ),
            Route("GetSecret", "GET", "/secrets/<name>/", get_secret),
            Route("GetSecret", "GET", "/secrets/<name>/<version>", get_secret),
            Route("UpdateSecret", "PATCH", "/secrets/<name>/", update_secret),
            Route("UpdateSecret", "PATCH", "/secrets/<name>/<version>", update_secret),
            Route(
                "GetDeletedSecrets", "GET", "/deletedsecrets", self._operation("GetDeletedSecrets", self._list_deleted)
            ),
            Route(
                "GetDeletedSecret",
                "GET",
                "/deletedsecrets/<name>",
                self._operation("GetDeletedSecret", self._get_deleted),
            ),
            Route(
                "PurgeDeletedSecret",
                "DELETE",
                "/deletedsecrets/<name>",
                self._operation("PurgeDeletedSecret", self._purge),
            ),
            Route(
                "RecoverDeletedSecret",
                "POST",
                "/deletedsecrets/<name>/recover",
                self._operation("RecoverDeletedSecret", self._recover),
            ),
        ]

    def error_response(self, error: HttpError) -> Response:
        code = "Throttled" if error.status == 429 else error.code  # the service's code for 429
        detail: dict[str, object] = {"code": code, "message": error.message}
        inner = getattr(error, "inner", None)
        if inner:
            detail["innererror"] = {"code": inner}
        return json_response({"error": detail}, error.status, error.headers)

    def _operation(self, operation: str, handler: OperationHandler) -> OperationHandler:
        def guarded(request: Request, **args: str) -> Response:
            name = args.get("name")
            self.access.check(request, operation, name)
            if name is not None:
                check_name(name)
            return handler(request, **args)

        return guarded

    def _view(self, request: Request) -> wire.VaultView:
        return wire.VaultView(
            base_url=request.host_url.rstrip("/"),
            recovery_level=self.store.recovery_level,
            recoverable_days=self.store.retention_days,
        )

    def _set(self, request: Request, name: str) -> Response:
        body = wire.read_body(request)
        value = wire.secret_value(body)
        found = wire.changes(body)
        record = self.store.set(
            name,
            value,
            enabled=found.get("enabled", True),
            not_before=found.get("not_before"),
            expires_on=found.get("expires_on"),
            content_type=found.get("content_type"),
            tags=found.get("tags"),
        )
        return json_response(wire.bundle(self._view(request), record, with_value=True))

    def _get(self, request: Request, name: str, version: str = "") -> Response:
        record = self.store.get(name, version)
        if not record.enabled:
            raise errors.secret_disabled()
        return json_response(wire.bundle(self._view(request), record, with_value=True))

    def _update(self, request: Request, name: str, version: str = "") -> Response:
        record = self.store.update(name, version, wire.changes(wire.read_body(request)))
        return json_response(wire.bundle(self._view(request), record, with_value=False))

    def _list(self, request: Request) -> Response:
        view = self._view(request)
        keyed = [(s.name.lower(), wire.item(view, s.latest, versioned=False)) for s in self.store.secrets()]
        return json_response(wire.page(request, view, keyed, self.page_size))

    def _list_versions(self, request: Request, name: str) -> Response:
        view = self._view(request)
        keyed = [(f"{i:08d}", wire.item(view, v, versioned=True)) for i, v in enumerate(self.store.versions(name))]
        return json_response(wire.page(request, view, keyed, self.page_size))

    def _delete(self, request: Request, name: str) -> Response:
        return json_response(wire.deleted_bundle(self._view(request), self.store.delete(name)))

    def _get_deleted(self, request: Request, name: str) -> Response:
        return json_response(wire.deleted_bundle(self._view(request), self.store.deleted(name)))

    def _list_deleted(self, request: Request) -> Response:
        view = self._view(request)
        keyed = [(s.name.lower(), wire.deleted_item(view, s)) for s in self.store.deleted_secrets()]
        return json_response(wire.page(request, view, keyed, self.page_size))

    def _purge(self, request: Request, name: str) -> Response:
        self.store.purge(name)
        return Response(status=204)

    def _recover(self, request: Request, name: str) -> Response:
        secret = self.store.recover(name)
        return json_response(wire.bundle(self._view(request), secret.latest, with_value=False))
