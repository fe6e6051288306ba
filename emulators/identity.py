"""The App Service managed-identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, api-version
2019-08-01), so that the real `azure.identity.ManagedIdentityCredential` obtains sandbox JWTs unchanged.

Served over plain HTTP on loopback, as App Service itself does. The JWT's `exp` is in emulated time
(the IoT Central and Key Vault emulators check it against the shared clock); the `expires_on` returned
to the client is in real time so that the client's token cache keeps working when the clock jumps.

Run alone: ``python -m emulators.identity`` prints IDENTITY_ENDPOINT and IDENTITY_HEADER.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from werkzeug.wrappers import Request, Response

from emulators.core import Clock, EmulatorApp, Faults, HttpError, Route, SandboxAuthority, serve
from emulators.core.http import json_response
from emulators.core.runner import run_until_signalled

API_VERSION = "2019-08-01"
TOKEN_PATH = "/msi/token"


@dataclass(frozen=True)
class ManagedIdentity:
    """An Azure AD service principal as the emulators see it (oid = object id, tid = tenant)."""

    name: str
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class IdentityEmulator(EmulatorApp):
    name = "identity"

    def __init__(
        self,
        authority: SandboxAuthority,
        *,
        system: ManagedIdentity | None = None,
        clock: Clock | None = None,
        faults: Faults | None = None,
        token_lifetime: timedelta = timedelta(hours=1),
        header_secret: str | None = None,
    ) -> None:
        self.authority = authority
        self.system = system or ManagedIdentity("system-assigned")
        self.user_assigned: dict[str, ManagedIdentity] = {}
        self.token_lifetime = token_lifetime
        self.header_secret = header_secret or secrets.token_urlsafe(24)
        self._issued: Counter[str] = Counter()
        self._issued_lock = threading.Lock()
        super().__init__(clock=clock, faults=faults)

    def issued(self) -> dict[str, int]:
        """Tokens issued per resource (the scope without `/.default`): tests count identity requests per
        scope, which the per-route counters cannot tell apart."""
        with self._issued_lock:
            return dict(self._issued)

    def add_user_assigned(self, identity: ManagedIdentity) -> ManagedIdentity:
        self.user_assigned[identity.client_id] = identity
        return identity

    def routes(self) -> list[Route]:
        return [Route("msi.token", "GET", TOKEN_PATH, self._token)]

    def error_response(self, error: HttpError) -> Response:
        body = {"error": error.code, "error_description": error.message}
        return json_response(body, error.status, error.headers)

    def _select(self, request: Request) -> ManagedIdentity:
        client_id = request.args.get("client_id")
        object_id = request.args.get("object_id") or request.args.get("principal_id")
        if client_id:
            found = self.user_assigned.get(client_id)
        elif object_id:
            found = next((i for i in self.user_assigned.values() if i.object_id == object_id), None)
        else:
            return self.system
        if found is None:
            raise HttpError(
                400,
                "invalid_request",
                f"no managed identity with {'client_id' if client_id else 'object_id'} "
                f"{client_id or object_id!r} is assigned to this app",
            )
        return found

    def _token(self, request: Request) -> Response:
        if request.headers.get("X-IDENTITY-HEADER") != self.header_secret:
            raise HttpError(401, "unauthorized", "X-IDENTITY-HEADER is missing or wrong")
        version = request.args.get("api-version")
        if version != API_VERSION:
            raise HttpError(400, "invalid_request", f"api-version: got {version!r}, expected {API_VERSION!r}")
        resource = request.args.get("resource")
        if not resource:
            raise HttpError(400, "invalid_request", "resource: got nothing, expected a resource URI")
        identity = self._select(request)
        with self._issued_lock:
            self._issued[resource] += 1
        token, _ = self.authority.issue(
            audience=resource,
            oid=identity.object_id,
            tid=identity.tenant_id,
            appid=identity.client_id,
            now=self.clock.now(),
            lifetime=self.token_lifetime,
        )
        expires_on = int(time.time() + self.token_lifetime.total_seconds())
        return json_response(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }
        )

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Yields IDENTITY_ENDPOINT (the full token URL)."""
        with serve(self) as base_url:
            yield base_url + TOKEN_PATH


def main() -> None:
    emulator = IdentityEmulator(SandboxAuthority())
    with emulator.serve() as endpoint:
        run_until_signalled({"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": emulator.header_secret})


if __name__ == "__main__":
    main()
