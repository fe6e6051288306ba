"""IoT Central data plane over httpx (api-version pinned), authenticated by an Azure AD bearer token from
the azure-identity credential or, for deployments without an identity, by a bootstrap admin API token.

Every answer is checked before it is believed (`iotcentral_wire`: strict types, JSON, a size cap), and
every request stays on the app's origin (scheme, host and port; a nextLink elsewhere would send our
credential there). Every listing follows `nextLink` to its end: anything less raises
`IncompleteListingError` so the caller fails closed.

Creating a token is retried with the same id (`create_token`): the id is ours, so a retry cannot make a
second token, and a 409 after an attempt that may have been applied is settled by reading the token back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from azure.core.exceptions import AzureError

from rotation.adapters.http import Answer, RateLimiter, RetryPolicy, check_client, is_ambiguous, send
from rotation.adapters.iotcentral_wire import (
    WireApiToken,
    WireCreatedToken,
    WireRolePage,
    WireTokenPage,
    WireUser,
)
from rotation.adapters.origin import Origin
from rotation.adapters.wire import Wire, parse
from rotation.domain.ids import check_token_id
from rotation.domain.model import AppToken, RoleAssignment
from rotation.domain.secret import Secret
from rotation.domain.values import check_api_path
from rotation.errors import (
    AuthError,
    IncompleteListingError,
    NotFoundError,
    ServiceError,
    ValidationError,
    VerificationError,
)

API_VERSION = "2022-07-31"
SCOPE = "https://apps.azureiotcentral.com/.default"
USER_ID = re.compile(r"^[a-zA-Z0-9-_]{1,48}$")
MAX_PAGES = 1000

P = TypeVar("P", WireTokenPage, WireRolePage)
W = TypeVar("W", bound=Wire)


class TokenCredential(Protocol):
    def get_token(self, *scopes: str) -> Any: ...


def roles_json(roles: frozenset[RoleAssignment]) -> list[dict[str, str]]:
    return [{"role": r.role, **({"organization": r.organization} if r.organization else {})} for r in sorted(roles)]


class IoTCentralClient:
    def __init__(
        self,
        base_url: str,
        http: httpx.Client,
        *,
        credential: TokenCredential | None = None,
        api_token: Secret | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        api_version: str = API_VERSION,
    ) -> None:
        if (credential is None) == (api_token is None):
            raise ValueError("IoTCentralClient needs exactly one of credential or api_token")
        self.base_url = base_url.rstrip("/")
        self._http = check_client(http)
        self._credential = credential
        self._api_token = api_token
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._api_version = api_version
        self._origin = Origin.of(self.base_url)

    # -- plumbing ------------------------------------------------------------------------------------
    def _auth(self) -> str:
        if self._api_token is not None:
            return self._api_token.reveal()
        assert self._credential is not None  # noqa: S101 -- guaranteed by __init__
        try:
            return f"Bearer {self._credential.get_token(SCOPE).token}"
        except AzureError as exc:  # CredentialUnavailableError, ClientAuthenticationError: no secret in them
            raise AuthError(
                f"get an access token for IoT Central: got {type(exc).__name__}, expected a token "
                "(is the managed identity available?)"
            ) from exc

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        json: Any = None,
        ok: frozenset[int] = frozenset({200}),
        params: dict[str, str] | None = None,
        auth: Secret | None = None,
        failures: list[BaseException] | None = None,
    ) -> Answer:
        def build() -> httpx.Request:
            if self._limiter is not None:
                self._limiter.acquire(self.base_url)  # per application (the sandbox serves all from one host)
            headers = {"Authorization": auth.reveal() if auth is not None else self._auth()}
            return self._http.build_request(method, url, params=params, json=json, headers=headers)

        return send(self._http, build, what, self._retry, ok, origin=self._origin, failures=failures)

    def _get(self, model: type[W], url: str, what: str) -> W:
        answer = self._send("GET", url, what, params={"api-version": self._api_version})
        return parse(model, answer.body, answer.content_type, what)

    def _url(self, *segments: str) -> str:
        return self.base_url + "/api/" + "/".join(quote(s, safe="") for s in segments)

    def _pages(self, page: type[P], collection: str, what: str) -> Iterator[P]:
        """Every page, or `IncompleteListingError`: a failed, foreign, mistyped or endless listing."""
        url: str | None = self._url(collection)
        params: dict[str, str] | None = {"api-version": self._api_version}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            try:
                answer = self._send("GET", url, what, params=params)
                body = parse(page, answer.body, answer.content_type, what)
                if body.next_link is not None:
                    self._origin.check(body.next_link, f"{what}: nextLink")
            except ServiceError as exc:
                raise IncompleteListingError(
                    f"{what}: listing incomplete ({exc})", status=exc.status, code=exc.code
                ) from None
            yield body
            url, params = body.next_link, None
        raise IncompleteListingError(f"{what}: more than {MAX_PAGES} pages, expected fewer")

    # -- port ------------------------------------------------------------------------------------------
    def list_tokens(self) -> list[AppToken]:
        what = f"list API tokens of {self.base_url}"
        return [t.model() for body in self._pages(WireTokenPage, "apiTokens", what) for t in body.value]

    def create_token(
        self, token_id: str, roles: frozenset[RoleAssignment], expiry: datetime
    ) -> tuple[AppToken, Secret]:
        """Retried with the SAME id on 429/503, connect errors and ambiguous failures (a read timeout, a
        connection dropped after sending, 500/502/504). A 409 after an ambiguous attempt means that attempt
        was applied, but its answer, the only one that carries the value, is lost: the token is deleted
        (when it is exactly what was asked for) and a `ServiceError` says so; the next run mints again.
        A 400 naming `expiry` is answered by one more create without it (`AppToken.expiry_refused`)."""
        check_token_id(token_id)
        what = f"create API token {token_id}"
        body = {"roles": roles_json(roles), "expiry": expiry.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        try:
            return self._create(token_id, roles, what, body)
        except ServiceError as exc:
            # Microsoft's own client never sends `expiry`: an app refusing it gets the body without it, once
            if exc.status != 400 or "expiry" not in str(exc)[len(what) :].casefold():
                raise
        token, value = self._create(token_id, roles, what, {"roles": body["roles"]})
        return dataclasses.replace(token, expiry_refused=True), value

    def _create(
        self, token_id: str, roles: frozenset[RoleAssignment], what: str, body: dict[str, Any]
    ) -> tuple[AppToken, Secret]:
        failures: list[BaseException] = []
        try:
            answer = self._send(
                "PUT",
                self._url("apiTokens", token_id),
                what,
                json=body,
                failures=failures,
                params={"api-version": self._api_version},
            )
        except ServiceError as exc:
            ambiguous = [f for f in failures[:-1] if is_ambiguous(f)]
            if exc.status == 409 and ambiguous:
                self._settle_lost_create(token_id, roles, what, ambiguous[0])
            raise
        created = parse(WireCreatedToken, answer.body, answer.content_type, what)
        if created.id != token_id:
            raise ServiceError(f"{what}: got an answer for token {created.id!r}, expected {token_id!r}")
        return created.model(), created.token

    def _settle_lost_create(
        self, token_id: str, roles: frozenset[RoleAssignment], what: str, first: BaseException
    ) -> None:
        """After an ambiguous attempt and a 409: read the token back; always raises."""
        try:
            existing = self._get(WireApiToken, self._url("apiTokens", token_id), f"{what}: read it back")
        except NotFoundError:
            raise ServiceError(
                f"{what}: got 409 Conflict after an ambiguous failure ({first}), yet the token "
                "does not exist: expected either",
                status=409,
            ) from None
        if existing.model().roles != roles:
            raise ServiceError(
                f"{what}: got 409 Conflict, and token {token_id} exists with other roles than "
                "asked: expected ours; left untouched",
                status=409,
            )
        try:
            self.delete_token(token_id)
        except ServiceError as exc:
            raise ServiceError(
                f"{what}: it was applied but its answer was lost ({first}), and deleting it failed "
                f"({exc}): the orphan sweep removes it",
                status=409,
            ) from None
        raise ServiceError(
            f"{what}: it was applied but its answer, the only one with the value, was lost "
            f"({first}); deleted it, the next run mints again",
            status=409,
        )

    def delete_token(self, token_id: str) -> bool:
        check_token_id(token_id)
        try:
            self._send(
                "DELETE",
                self._url("apiTokens", token_id),
                f"delete API token {token_id}",
                params={"api-version": self._api_version},
                ok=frozenset({204}),
            )
        except NotFoundError:
            return False
        return True

    def list_roles(self) -> dict[str, str]:
        what = f"list roles of {self.base_url}"
        return {r.id: r.display_name or r.id for body in self._pages(WireRolePage, "roles", what) for r in body.value}

    def verify(self, token: Secret, method: str, path: str) -> None:
        """A 2xx JSON answer is success; 401/403 a `VerificationError`; anything else (an HTML 200 from a
        proxy included) a `ServiceError`: the token's fate is then unknown, not good."""
        check_api_path(path, "verify path")  # under /api/ of this app: no dot segments, no query, no escapes out
        what = f"verify with {method} {path}"
        try:
            answer = self._send(
                method,
                self.base_url + path,
                what,
                params={"api-version": self._api_version},
                auth=token,
                ok=frozenset(range(200, 300)),
            )
        except AuthError as exc:
            raise VerificationError(str(exc)) from None
        if answer.status != 204:
            parse(Wire, answer.body, answer.content_type, what)

    # -- bootstrap -------------------------------------------------------------------------------------
    def get_user(self, user_id: str) -> dict[str, Any] | None:
        if not USER_ID.match(user_id):
            raise ValidationError(f"user id: got {user_id!r}, expected 1-48 characters of a-z A-Z 0-9 - _")
        try:
            user = self._get(WireUser, self._url("users", user_id), f"get user {user_id}")
        except NotFoundError:
            return None
        return dict(user.model_dump(by_alias=True, exclude_none=True))

    def put_service_principal(
        self, user_id: str, *, object_id: str, tenant_id: str, roles: frozenset[RoleAssignment]
    ) -> dict[str, Any]:
        if not USER_ID.match(user_id):
            raise ValidationError(f"user id: got {user_id!r}, expected 1-48 characters of a-z A-Z 0-9 - _")
        what = f"register service principal {user_id}"
        body = {"type": "servicePrincipal", "objectId": object_id, "tenantId": tenant_id, "roles": roles_json(roles)}
        answer = self._send(
            "PUT", self._url("users", user_id), what, params={"api-version": self._api_version}, json=body
        )
        return dict(
            parse(WireUser, answer.body, answer.content_type, what).model_dump(by_alias=True, exclude_none=True)
        )
