"""IoT Central data plane over httpx (api-version pinned), authenticated by an Azure AD bearer token from
the azure-identity credential or, for deployments without an identity, by a bootstrap admin API token.

Every listing follows `nextLink` to its end, and only on the app's own host (a nextLink elsewhere would
send our credential there): anything less raises `IncompleteListingError` so the caller fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from rotation.adapters.http import RateLimiter, RetryPolicy, send
from rotation.errors import AuthError, IncompleteListingError, ServiceError, ValidationError, VerificationError
from rotation.model import AppToken, RoleAssignment
from rotation.secret import Secret

API_VERSION = "2022-07-31"
SCOPE = "https://apps.azureiotcentral.com/.default"
TOKEN_ID = re.compile(r"^[A-Za-z0-9_.~-]{1,40}$")
USER_ID = re.compile(r"^[a-zA-Z0-9-_]{1,48}$")
MAX_PAGES = 1000


class TokenCredential(Protocol):
    def get_token(self, *scopes: str) -> Any: ...


def check_token_id(token_id: str) -> str:
    if not TOKEN_ID.match(token_id):
        raise ValidationError(f"token id: got {token_id!r}, expected 1-40 characters of A-Z a-z 0-9 _ . ~ -")
    return token_id


def parse_expiry(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _roles(raw: object) -> frozenset[RoleAssignment]:
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(RoleAssignment(str(r["role"]), r.get("organization")) for r in raw
                     if isinstance(r, dict) and "role" in r)


def roles_json(roles: frozenset[RoleAssignment]) -> list[dict[str, str]]:
    return [{"role": r.role, **({"organization": r.organization} if r.organization else {})} for r in sorted(roles)]


def token_from_json(item: dict[str, Any]) -> AppToken:
    return AppToken(str(item["id"]), _roles(item.get("roles")), parse_expiry(item.get("expiry")))


class IoTCentralClient:
    def __init__(self, base_url: str, http: httpx.Client, *, credential: TokenCredential | None = None,
                 api_token: Secret | None = None, limiter: RateLimiter | None = None,
                 retry: RetryPolicy | None = None, api_version: str = API_VERSION) -> None:
        if (credential is None) == (api_token is None):
            raise ValueError("IoTCentralClient needs exactly one of credential or api_token")
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._credential = credential
        self._api_token = api_token
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._api_version = api_version
        self._host = urlsplit(self.base_url).netloc

    # -- plumbing ------------------------------------------------------------------------------------
    def _auth(self) -> str:
        if self._api_token is not None:
            return self._api_token.reveal()
        assert self._credential is not None  # noqa: S101 -- guaranteed by __init__
        return f"Bearer {self._credential.get_token(SCOPE).token}"

    def _request(self, method: str, url: str, what: str, *, json: Any = None, ok: frozenset[int] = frozenset({200}),
                 params: dict[str, str] | None = None, auth: str | None = None) -> httpx.Response:
        def call() -> httpx.Response:
            if self._limiter is not None:
                self._limiter.acquire(self.base_url)  # per application (the sandbox serves all from one host)
            headers = {"Authorization": auth or self._auth()}
            return self._http.request(method, url, params=params, json=json, headers=headers)

        return send(self._http, call, what, self._retry, ok)

    def _url(self, *segments: str) -> str:
        return self.base_url + "/api/" + "/".join(quote(s, safe="") for s in segments)

    def _pages(self, collection: str, what: str) -> Iterator[dict[str, Any]]:
        url: str | None = self._url(collection)
        params: dict[str, str] | None = {"api-version": self._api_version}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            try:
                body = self._request("GET", url, what, params=params).json()
            except ServiceError as exc:
                raise IncompleteListingError(f"{what}: listing incomplete ({exc})", status=exc.status) from None
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise IncompleteListingError(f"{what}: got a page without a 'value' list, expected a collection")
            yield from body["value"]
            url, params = body.get("nextLink"), None
            if url is not None and urlsplit(url).netloc != self._host:
                raise IncompleteListingError(f"{what}: nextLink points to {urlsplit(url).netloc!r}, "
                                             f"expected the app's host {self._host!r}")
        raise IncompleteListingError(f"{what}: more than {MAX_PAGES} pages, expected fewer")

    # -- port ------------------------------------------------------------------------------------------
    def list_tokens(self) -> list[AppToken]:
        return [token_from_json(item) for item in self._pages("apiTokens", f"list API tokens of {self.base_url}")]

    def create_token(self, token_id: str, roles: frozenset[RoleAssignment],
                     expiry: datetime) -> tuple[AppToken, Secret]:
        check_token_id(token_id)
        body = {"roles": roles_json(roles),
                "expiry": expiry.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        # A create is not retried on a lost connection: it may have happened, and a retry would 409.
        policy = RetryPolicy(attempts=1) if self._retry.attempts > 1 else self._retry
        response = send(self._http, lambda: self._http.put(
            self._url("apiTokens", token_id), params={"api-version": self._api_version}, json=body,
            headers={"Authorization": self._auth()}), f"create API token {token_id}", policy)
        data = response.json()
        value = data.pop("token", None)
        if not isinstance(value, str) or not value:
            raise ServiceError(f"create API token {token_id}: got no token value, expected one in the response")
        return token_from_json(data), Secret(value)

    def delete_token(self, token_id: str) -> bool:
        check_token_id(token_id)
        try:
            self._request("DELETE", self._url("apiTokens", token_id), f"delete API token {token_id}",
                          params={"api-version": self._api_version}, ok=frozenset({204}))
        except ServiceError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def list_roles(self) -> dict[str, str]:
        return {str(r["id"]): str(r.get("displayName", r["id"]))
                for r in self._pages("roles", f"list roles of {self.base_url}")}

    def verify(self, token: Secret, method: str, path: str) -> None:
        if not path.startswith("/api/"):
            raise ValidationError(f"verify path: got {path!r}, expected a path under /api/")
        url = self.base_url + path
        try:
            self._request(method, url, f"verify with {method} {path}", params={"api-version": self._api_version},
                          auth=token.reveal())
        except AuthError as exc:
            raise VerificationError(str(exc)) from None

    # -- bootstrap -------------------------------------------------------------------------------------
    def get_user(self, user_id: str) -> dict[str, Any] | None:
        if not USER_ID.match(user_id):
            raise ValidationError(f"user id: got {user_id!r}, expected 1-48 characters of a-z A-Z 0-9 - _")
        try:
            body = self._request("GET", self._url("users", user_id), f"get user {user_id}",
                                 params={"api-version": self._api_version}).json()
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        return body if isinstance(body, dict) else None

    def put_service_principal(self, user_id: str, *, object_id: str, tenant_id: str,
                              roles: frozenset[RoleAssignment]) -> dict[str, Any]:
        if not USER_ID.match(user_id):
            raise ValidationError(f"user id: got {user_id!r}, expected 1-48 characters of a-z A-Z 0-9 - _")
        body = {"type": "servicePrincipal", "objectId": object_id, "tenantId": tenant_id,
                "roles": roles_json(roles)}
        result = self._request("PUT", self._url("users", user_id), f"register service principal {user_id}",
                               params={"api-version": self._api_version}, json=body).json()
        return result if isinstance(result, dict) else {}
