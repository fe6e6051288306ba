"""The IoT Central data-plane REST API (2022-07-31) for many applications on one loopback server.

The real host is ``https://<subdomain>.azureiotcentral.com/api/...``; on loopback the subdomain becomes
a path prefix: ``https://127.0.0.1:PORT/apps/<subdomain>/api/...``. Route names are the spec's
operationIds, so `emulators.conformance` checks every response against the official definition.

Every request to an application goes through, in order: the application must exist (404), its
request quota (429 + Retry-After), ``api-version`` (400), the credential (401), the permission (403).

Assumptions where the service is undocumented (see /work/shared/specs/iotcentral/FACTS.md):
- PUT on an existing API token id answers 409 (tokens are immutable; the spec has no update for them),
  while PUT on an existing user id replaces the user (the spec's example calls it "add or update").
- Whether the service honours a client-chosen ``expiry`` is unknown: the `expiry_policy` knob picks
  "honor" (default), "ignore" (always a year), "clamp" (at most a year) or "reject" (a 400 naming
  ``expiry``, as Microsoft's own client never sends it; the body without it is accepted).
- A token minted through the API is refused with 401 until `propagation_delay` (default 1.25 s) has
  passed on the emulated clock; seeded tokens work at once. The real delay is undocumented: the
  default only makes every client exercise its wait (see emulators/FIDELITY.md).
- Paging: ``nextLink`` is an absolute URL with the same api-version and an opaque ``$skiptoken``; the
  page size is a knob (the real one is unknown). Error codes are the HTTP reason in PascalCase.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.utils import format_datetime
from typing import Any, Literal, get_args
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from emulators.core import Clock, EmulatorApp, Faults, HttpError, Route, SandboxAuthority, SandboxCA, serve
from emulators.core.http import json_response, read_json
from emulators.iotcentral import bodies
from emulators.iotcentral.access import Caller, authenticate, forbidden
from emulators.iotcentral.app import TOKEN_LIFETIME, ConflictError, IoTCentralApp
from emulators.iotcentral.entities import TOKEN_ID
from emulators.iotcentral.ratelimit import SlidingWindowLimiter
from emulators.iotcentral.roles import (
    APITOKENS_MANAGE,
    APITOKENS_READ,
    DEVICES_READ,
    ORGANIZATIONS_READ,
    ROLES_READ,
    USERS_MANAGE,
    USERS_READ,
    allowed,
    organization_scope,
)

ExpiryPolicy = Literal["honor", "ignore", "clamp", "reject"]
STABLE_API_VERSIONS = ("1.0", "2022-05-31", "2022-07-31")
PREVIEW_API_VERSIONS = ("1.1-preview", "1.2-preview", "2021-04-30-preview", "2022-06-30-preview", "2022-10-31-preview")
API_VERSIONS = frozenset(STABLE_API_VERSIONS + PREVIEW_API_VERSIONS)
DEFAULT_API_VERSION = "2022-07-31"
PREFIX = "/apps/<subdomain>/api"
PROPAGATION_DELAY = timedelta(seconds=1.25)
"""Emulated time before a token minted through the API is accepted (assumed: the service documents none)."""

Action = Callable[..., Response]


def not_found(message: str) -> HttpError:
    return HttpError(404, "NotFound", message)


class IoTCentralEmulator(EmulatorApp):
    name = "iotcentral"

    def __init__(
        self,
        authority: SandboxAuthority,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        page_size: int = 100,
        rate_limit: int | None = 20,
        propagation_delay: timedelta = PROPAGATION_DELAY,
        expiry_policy: ExpiryPolicy = "honor",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.authority = authority
        self.page_size = page_size
        self.rate_limit = rate_limit
        self.propagation_delay = propagation_delay
        self.expiry_policy = expiry_policy
        self._monotonic = monotonic
        self._apps: dict[str, IoTCentralApp] = {}
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self.listing_omits: set[str] = set()  # a lying listing: these token ids are left out of every page
        super().__init__(clock=clock, faults=faults)

    # -- knobs -----------------------------------------------------------------------------------------
    @property
    def expiry_policy(self) -> ExpiryPolicy:
        return self._expiry_policy

    @expiry_policy.setter
    def expiry_policy(self, policy: ExpiryPolicy) -> None:
        if policy not in get_args(ExpiryPolicy):
            raise ValueError(f"expiry_policy: got {policy!r}, expected one of {get_args(ExpiryPolicy)}")
        self._expiry_policy = policy

    @property
    def page_size(self) -> int:
        return self._page_size

    @page_size.setter
    def page_size(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"page_size: got {size}, expected at least 1")
        self._page_size = size

    # -- seeding ---------------------------------------------------------------------------------------
    def add_app(self, subdomain: str, *, app_id: str | None = None) -> IoTCentralApp:
        if subdomain in self._apps:
            raise ValueError(f"app {subdomain!r} already exists")
        app = IoTCentralApp(
            subdomain, app_id=app_id, clock=self.clock, propagation_delay=lambda: self.propagation_delay
        )
        self._limiters[subdomain] = SlidingWindowLimiter(monotonic=self._monotonic)
        self._apps[subdomain] = app
        return app

    def app(self, subdomain: str) -> IoTCentralApp:
        try:
            return self._apps[subdomain]
        except KeyError:
            raise KeyError(f"app: got {subdomain!r}, expected one of {sorted(self._apps)}") from None

    @property
    def apps(self) -> dict[str, IoTCentralApp]:
        return dict(self._apps)

    @contextmanager
    def serve(self, ca: SandboxCA) -> Iterator[str]:
        """Serve over HTTPS with a certificate of the sandbox CA; yields the base URL."""
        with serve(self, tls=ca.server_context()) as base_url:
            yield base_url

    @staticmethod
    def app_url(base_url: str, subdomain: str) -> str:
        """What stands for ``https://<subdomain>.azureiotcentral.com`` (append ``/api/...``)."""
        return f"{base_url.rstrip('/')}/apps/{subdomain}"

    # -- HTTP ------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        g = self._guarded
        return [
            Route("ApiTokens_List", "GET", f"{PREFIX}/apiTokens", g(APITOKENS_READ, self._tokens_list)),
            Route("ApiTokens_Get", "GET", f"{PREFIX}/apiTokens/<token_id>", g(APITOKENS_READ, self._token_get)),
            Route("ApiTokens_Create", "PUT", f"{PREFIX}/apiTokens/<token_id>", g(APITOKENS_MANAGE, self._token_create)),
            Route(
                "ApiTokens_Remove", "DELETE", f"{PREFIX}/apiTokens/<token_id>", g(APITOKENS_MANAGE, self._token_remove)
            ),
            Route("Roles_List", "GET", f"{PREFIX}/roles", g(ROLES_READ, self._roles_list)),
            Route("Roles_Get", "GET", f"{PREFIX}/roles/<role_id>", g(ROLES_READ, self._role_get)),
            Route("Users_List", "GET", f"{PREFIX}/users", g(USERS_READ, self._users_list)),
            Route("Users_Get", "GET", f"{PREFIX}/users/<user_id>", g(USERS_READ, self._user_get)),
            Route("Users_Create", "PUT", f"{PREFIX}/users/<user_id>", g(USERS_MANAGE, self._user_create)),
            Route("Users_Remove", "DELETE", f"{PREFIX}/users/<user_id>", g(USERS_MANAGE, self._user_remove)),
            Route("Organizations_List", "GET", f"{PREFIX}/organizations", g(ORGANIZATIONS_READ, self._orgs_list)),
            Route("Organizations_Get", "GET", f"{PREFIX}/organizations/<org_id>", g(ORGANIZATIONS_READ, self._org_get)),
            Route("Devices_List", "GET", f"{PREFIX}/devices", g(DEVICES_READ, self._devices_list)),
        ]

    def error_response(self, error: HttpError) -> Response:
        """The spec's `Error` body, and `x-ms-error-code` on every error (faults, 404, 405, 429, 500)."""
        request_id = str(uuid.uuid4())
        body = {
            "error": {
                "code": error.code,
                "message": error.message,
                "requestId": request_id,
                "time": format_datetime(self.clock.now(), usegmt=True),
            }
        }
        headers = {**error.headers, "x-ms-error-code": error.code, "x-ms-request-id": request_id}
        return json_response(body, error.status, headers)

    def _guarded(self, permission: str, action: Action) -> Action:
        def handler(request: Request, subdomain: str, **args: str) -> Response:
            app, caller = self._admit(request, subdomain, permission)
            return action(request, app, caller, **args)

        return handler

    def _admit(self, request: Request, subdomain: str, permission: str) -> tuple[IoTCentralApp, Caller]:
        app = self._apps.get(subdomain)
        if app is None:
            raise not_found(f"no IoT Central application with subdomain {subdomain!r}")
        wait = self._limiters[subdomain].acquire(self.rate_limit)
        if wait is not None:
            raise HttpError(
                429,
                "TooManyRequests",
                f"application {subdomain!r} allows {self.rate_limit} requests per second",
                {"Retry-After": str(wait)},
            )
        version = request.args.get("api-version")
        if not version:
            raise bodies.bad_request(
                f"the api-version query parameter is required, e.g. api-version={DEFAULT_API_VERSION}"
            )
        if version not in API_VERSIONS:
            raise bodies.bad_request(f"api-version: got {version!r}, expected one of {sorted(API_VERSIONS)}")
        caller = authenticate(app, request.headers.get("Authorization"), authority=self.authority, now=self.clock.now())
        if not allowed(caller.roles, app.role, permission):
            raise forbidden(
                f"{'API token' if caller.kind == 'apiToken' else 'user'} {caller.id!r} lacks "
                f"permission {permission} in application {subdomain!r}"
            )
        return app, caller

    def _listing(self, request: Request, values: list[dict[str, Any]], more: int | None) -> Response:
        body: dict[str, Any] = {"value": values}
        if more is not None:
            query = urlencode({"api-version": request.args["api-version"], "$skiptoken": str(more)})
            body["nextLink"] = f"{request.base_url}?{query}"
        return json_response(body)

    @staticmethod
    def _after(request: Request) -> int:
        raw = request.args.get("$skiptoken", "0")
        if not raw.isdigit():
            raise bodies.bad_request(f"$skiptoken: got {raw!r}, expected a value from a nextLink")
        return int(raw)

    # -- API tokens ------------------------------------------------------------------------------------
    def _tokens_list(self, request: Request, app: IoTCentralApp, caller: Caller) -> Response:
        tokens, more = app.token_page(self._after(request), self.page_size)
        shown = [t.to_json() for t in tokens if t.id not in self.listing_omits]
        return self._listing(request, shown, more)

    def _token_get(self, request: Request, app: IoTCentralApp, caller: Caller, token_id: str) -> Response:
        record = app.token_record(token_id)
        if record is None:
            raise not_found(f"API token {token_id!r} does not exist")
        return json_response(record.info.to_json())

    def _token_create(self, request: Request, app: IoTCentralApp, caller: Caller, token_id: str) -> Response:
        if not TOKEN_ID.match(token_id):
            raise bodies.bad_request(f"tokenId: got {token_id!r}, expected 1 to 128 of [A-Za-z0-9_.~-]")
        now = self.clock.now()
        roles, requested = bodies.api_token(app, read_json(request), now, refuse=self.expiry_policy == "reject")
        year = now + TOKEN_LIFETIME
        if requested is None or self.expiry_policy == "ignore":
            expiry = year
        elif self.expiry_policy == "clamp":
            expiry = min(requested, year)
        else:
            expiry = requested
        try:
            info, value = app.mint(token_id, roles, expiry=expiry, created=now)
        except ConflictError as exc:
            raise HttpError(409, "Conflict", str(exc)) from None
        return json_response({**info.to_json(), "token": value})

    def _token_remove(self, request: Request, app: IoTCentralApp, caller: Caller, token_id: str) -> Response:
        if not app.delete_token(token_id):
            raise not_found(f"API token {token_id!r} does not exist")
        return Response(status=204)

    # -- roles, users, organizations, devices ----------------------------------------------------------
    def _roles_list(self, request: Request, app: IoTCentralApp, caller: Caller) -> Response:
        roles, more = app.roles.page(self._after(request), self.page_size)
        return self._listing(request, [r.to_json() for r in roles], more)

    def _role_get(self, request: Request, app: IoTCentralApp, caller: Caller, role_id: str) -> Response:
        role = app.role(role_id)
        if role is None:
            raise not_found(f"role {role_id!r} does not exist")
        return json_response(role.to_json())

    def _users_list(self, request: Request, app: IoTCentralApp, caller: Caller) -> Response:
        users, more = app.users.page(self._after(request), self.page_size)
        return self._listing(request, [u.to_json() for u in users], more)

    def _user_get(self, request: Request, app: IoTCentralApp, caller: Caller, user_id: str) -> Response:
        user = app.users.get(user_id)
        if user is None:
            raise not_found(f"user {user_id!r} does not exist")
        return json_response(user.to_json())

    def _user_create(self, request: Request, app: IoTCentralApp, caller: Caller, user_id: str) -> Response:
        user = bodies.user(app, user_id, read_json(request))
        try:
            stored = app.put_user(user)
        except ConflictError as exc:
            raise HttpError(409, "Conflict", str(exc)) from None
        return json_response(stored.to_json())

    def _user_remove(self, request: Request, app: IoTCentralApp, caller: Caller, user_id: str) -> Response:
        if not app.users.remove(user_id):
            raise not_found(f"user {user_id!r} does not exist")
        return Response(status=204)

    def _orgs_list(self, request: Request, app: IoTCentralApp, caller: Caller) -> Response:
        orgs, more = app.organizations.page(self._after(request), self.page_size)
        return self._listing(request, [o.to_json() for o in orgs], more)

    def _org_get(self, request: Request, app: IoTCentralApp, caller: Caller, org_id: str) -> Response:
        org = app.organizations.get(org_id)
        if org is None:
            raise not_found(f"organization {org_id!r} does not exist")
        return json_response(org.to_json())

    def _devices_list(self, request: Request, app: IoTCentralApp, caller: Caller) -> Response:
        """Only the devices in the caller's organizations (and their descendants) for scoped roles."""
        scope = organization_scope(caller.roles, app.role, DEVICES_READ)
        visible = None if scope is None else app.subtree(scope)
        keep = None if visible is None else (lambda d: not visible.isdisjoint(d.organizations))
        devices, more = app.devices.page(self._after(request), self.page_size, keep)
        return self._listing(request, [d.to_json() for d in devices], more)
