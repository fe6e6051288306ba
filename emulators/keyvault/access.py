"""Who may call the vault: the bearer challenge, JWT checks, the api-version gate and Azure RBAC.

The real service answers an anonymous request with a 401 whose `WWW-Authenticate` header names the tenant's
authority and the `https://vault.azure.net` resource; the SDK's challenge policy depends on that exact
header to learn which token to fetch. Authorization is Azure RBAC by the token's `oid`, using the data
actions of the two built-in roles the service needs (Key Vault Secrets Officer / Secrets User), and a
denial carries `innererror.code = ForbiddenByRbac` as in Azure.
"""

from __future__ import annotations

import threading
from typing import Literal, get_args

from werkzeug.wrappers import Request

from emulators.core import Claims, Clock, SandboxAuthority
from emulators.core.jwt_authority import TokenRejectedError
from emulators.keyvault.errors import KeyVaultHttpError, bad_parameter

RESOURCE = "https://vault.azure.net"
LOGIN = "https://login.microsoftonline.com"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# The SDK (azure-keyvault-secrets 4.12) sends 2026-04-01 by default; the 7.x versions share the same secrets
# surface, which the vendored 7.6 spec describes.
API_VERSIONS = frozenset({"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01"})
LATEST_API_VERSION = "2026-04-01"

Role = Literal["officer", "user"]
ROLES: tuple[Role, ...] = get_args(Role)

_ACTION = "Microsoft.KeyVault/vaults/secrets/"
GET_SECRET = _ACTION + "getSecret/action"
READ_METADATA = _ACTION + "readMetadata/action"
OPERATION_ACTIONS: dict[str, str] = {
    "SetSecret": _ACTION + "setSecret/action",
    "GetSecret": GET_SECRET,
    "GetSecrets": READ_METADATA,
    "GetSecretVersions": READ_METADATA,
    "UpdateSecret": _ACTION + "update/action",
    "DeleteSecret": _ACTION + "delete",
    "GetDeletedSecrets": READ_METADATA,
    "GetDeletedSecret": READ_METADATA,
    "PurgeDeletedSecret": _ACTION + "purge/action",
    "RecoverDeletedSecret": _ACTION + "recover/action",
}
ROLE_ACTIONS: dict[Role, frozenset[str]] = {
    "officer": frozenset(OPERATION_ACTIONS.values()),  # Key Vault Secrets Officer: secrets/*
    "user": frozenset({GET_SECRET, READ_METADATA}),  # Key Vault Secrets User
}
ROLE_NAMES: dict[Role, str] = {"officer": "Key Vault Secrets Officer", "user": "Key Vault Secrets User"}


class VaultAccess:
    def __init__(self, authority: SandboxAuthority, clock: Clock, *, tenant_id: str, vault_name: str) -> None:
        self.authority = authority
        self.clock = clock
        self.tenant_id = tenant_id
        self.vault_name = vault_name
        self._lock = threading.Lock()
        self._grants: dict[str, Role] = {}

    def grant(self, object_id: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role: got {role!r}, expected one of {', '.join(ROLES)}")
        with self._lock:
            self._grants[object_id] = role

    def revoke(self, object_id: str) -> None:
        with self._lock:
            self._grants.pop(object_id, None)

    def role_of(self, object_id: str) -> Role | None:
        with self._lock:
            return self._grants.get(object_id)

    @property
    def challenge(self) -> str:
        return f'Bearer authorization="{LOGIN}/{self.tenant_id}", resource="{RESOURCE}"'

    def _unauthorized(self, message: str) -> KeyVaultHttpError:
        return KeyVaultHttpError(401, "Unauthorized", message, headers={"WWW-Authenticate": self.challenge})

    def authenticate(self, request: Request) -> Claims:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        try:
            claims = self.authority.verify(token.strip(), audience=RESOURCE, now=self.clock.now())
        except TokenRejectedError as exc:
            raise self._unauthorized(f"AKV10022: Invalid token: {exc}.") from None
        if claims.tid != self.tenant_id:
            raise self._unauthorized(
                f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{self.tenant_id}/, "
                f"found https://sts.windows.net/{claims.tid}/."
            )
        return claims

    @staticmethod
    def check_api_version(request: Request) -> str:
        version = request.args.get("api-version")
        if not version:
            raise bad_parameter("The 'api-version' query parameter is missing.")
        if version not in API_VERSIONS:
            raise bad_parameter(
                f"The specified version ({version}) is not recognized. Consider using the latest "
                f"supported version ({LATEST_API_VERSION})."
            )
        return version

    def authorize(self, claims: Claims, operation: str, secret_name: str | None) -> None:
        action = OPERATION_ACTIONS[operation]
        role = self.role_of(claims.oid)
        if role is not None and action in ROLE_ACTIONS[role]:
            return
        resource = (
            f"/subscriptions/{SUBSCRIPTION}/resourcegroups/sandbox/providers/microsoft.keyvault/vaults/"
            f"{self.vault_name}" + (f"/secrets/{secret_name}" if secret_name else "")
        )
        assignment = ROLE_NAMES[role] if role else "(not found)"
        raise KeyVaultHttpError(
            403,
            "Forbidden",
            "Caller is not authorized to perform action on resource.\r\n"
            "If role assignments, deny assignments or role definitions were changed recently, please observe "
            "propagation time.\r\n"
            f"Caller: appid={claims.appid};oid={claims.oid};iss=https://sts.windows.net/{claims.tid}/\r\n"
            f"Action: '{action}'\r\nResource: '{resource.lower()}'\r\nAssignment: {assignment}\r\n"
            f"DecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {self.vault_name};location=sandbox\r\n",
            inner="ForbiddenByRbac",
        )

    def check(self, request: Request, operation: str, secret_name: str | None) -> None:
        """Authenticate, then the api-version, then RBAC: the order in which the service turns a request away."""
        claims = self.authenticate(request)
        self.check_api_version(request)
        self.authorize(claims, operation, secret_name)
