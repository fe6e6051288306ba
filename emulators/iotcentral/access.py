"""Who is calling an application, from its ``Authorization`` header: 401 when the credential is
missing, garbled, expired or not yet active; 403 when it is valid but the principal has no place in the
application (the service's distinction, which the rotation service relies on to tell a broken token
from a missing role).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from emulators.core import HttpError, SandboxAuthority
from emulators.core.jwt_authority import TokenRejectedError
from emulators.iotcentral import sas
from emulators.iotcentral.app import IoTCentralApp
from emulators.iotcentral.roles import RoleAssignment

AUDIENCE = "https://apps.azureiotcentral.com"


@dataclass(frozen=True)
class Caller:
    kind: Literal["user", "apiToken"]
    id: str
    roles: tuple[RoleAssignment, ...]


def unauthorized(message: str) -> HttpError:
    return HttpError(401, "Unauthorized", message)


def forbidden(message: str) -> HttpError:
    return HttpError(403, "Forbidden", message)


def authenticate(app: IoTCentralApp, header: str | None, *, authority: SandboxAuthority, now: datetime) -> Caller:
    if not header or not header.strip():
        raise unauthorized(
            "the Authorization header is missing: expected 'Bearer <Azure AD token>' or an "
            "API token 'SharedAccessSignature sr=..&sig=..&skn=..&se=..'"
        )
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return _bearer(app, credentials.strip(), authority=authority, now=now)
    if scheme == sas.SCHEME:
        return _api_token(app, credentials, now=now)
    raise unauthorized(f"Authorization scheme: got {scheme[:32]!r}, expected Bearer or {sas.SCHEME}")


def _bearer(app: IoTCentralApp, token: str, *, authority: SandboxAuthority, now: datetime) -> Caller:
    try:
        claims = authority.verify(token, audience=AUDIENCE, now=now)
    except TokenRejectedError as exc:
        raise unauthorized(str(exc)) from None
    user = app.service_principal(claims.oid, claims.tid)
    if user is None:
        raise forbidden(
            f"the service principal (objectId {claims.oid}, tenant {claims.tid}) is not a user of "
            f"application {app.subdomain!r}"
        )
    return Caller("user", user.id, user.roles)


def _api_token(app: IoTCentralApp, credentials: str, *, now: datetime) -> Caller:
    try:
        fields = sas.parse(credentials)
    except sas.SasRejectedError as exc:
        raise unauthorized(str(exc)) from None
    if fields.sr != app.app_id:
        raise unauthorized("API token belongs to another application")
    record = app.token_record(fields.skn)
    if record is None or not sas.signature_matches(record.key, fields):
        raise unauthorized("API token is not valid for this application (unknown, revoked or bad signature)")
    if fields.se <= sas.epoch_ms(now):
        raise unauthorized("API token has expired")
    if now < record.info.usable_from:
        raise unauthorized("API token is not active yet (it is still propagating)")
    return Caller("apiToken", record.info.id, record.info.roles)
