"""The doctor's remote checks: the identity's place in each IoT Central app, and what it may do in each vault.

IoT Central answers 403 both to a principal that is not a user of the app and to one whose role lacks a
permission, so the check reads the app's users and looks for the identity by object id: only an
Administrator assignment without an organization may manage API tokens (an organization-scoped one
cannot, `docs/protocol.md`). Those GETs go through the adapters' `send` (retries, same origin, size cap)
with the identity's bearer, and keep every failed attempt, so that `--live` can report whether a 429 came
with `Retry-After`.

The vault check does what a rotation does to a slot secret, on a throwaway `doctor-<random>` secret: set
it, tag it, read it back, then delete it (and purge it when allowed), always, in `finally`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
from azure.core.exceptions import AzureError, HttpResponseError
from azure.keyvault.secrets import SecretClient
from pydantic import Field

from rotation.adapters.http import Answer, RetryPolicy, send
from rotation.adapters.iotcentral import API_VERSION
from rotation.adapters.iotcentral import SCOPE as IOTCENTRAL_SCOPE
from rotation.adapters.iotcentral_wire import WireTokenPage, WireUser
from rotation.adapters.keyvault import build_secret_client
from rotation.adapters.origin import Origin
from rotation.adapters.wire import Wire, parse
from rotation.domain.model import AppSpec
from rotation.errors import AuthError, RotationError
from rotation.hosting.doctor import PROPAGATION, Check, DoctorReport, throwaway_id
from rotation.hosting.runtime import Runtime

ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
MAX_PAGES = 100
DOCTOR_TAG = {"managed-by": "rotation-doctor"}


class WireUserPage(Wire):
    value: list[WireUser]
    next_link: str | None = Field(default=None, alias="nextLink")


class Probe:
    """GETs to one app with the identity's bearer, answers seen raw (nextLink, Retry-After)."""

    def __init__(
        self, runtime: Runtime, app: AppSpec, failures: list[BaseException], retry: RetryPolicy | None = None
    ) -> None:
        self.base_url = app.base_url.rstrip("/")
        self._origin = Origin.of(self.base_url)
        self._http: httpx.Client = runtime.http()
        self._credential: Any = runtime.credential_object()
        self._retry = retry or RetryPolicy()
        self.failures = failures  # shared by every probe of the app: `--live` reports the 429s among them

    def get(self, url: str, what: str, *, first: bool = True) -> Answer:
        """`first`: add the api-version (a nextLink must carry its own)."""

        def build() -> httpx.Request:
            bearer = self._credential.get_token(IOTCENTRAL_SCOPE).token
            params = {"api-version": API_VERSION} if first else None
            return self._http.build_request("GET", url, params=params, headers={"Authorization": f"Bearer {bearer}"})

        return send(self._http, build, what, self._retry, origin=self._origin, failures=self.failures)

    def users(self) -> Iterator[WireUser]:
        url: str | None = f"{self.base_url}/api/users"
        for page in range(MAX_PAGES):
            if url is None:
                return
            what = f"list users of {self.base_url}"
            answer = self.get(url, what, first=page == 0)
            body = parse(WireUserPage, answer.body, answer.content_type, what)
            yield from body.value
            if body.next_link is not None:
                self._origin.check(body.next_link, f"{what}: nextLink")
            url = body.next_link

    def token_page(self) -> WireTokenPage:
        what = f"list API tokens of {self.base_url}"
        answer = self.get(f"{self.base_url}/api/apiTokens", what)
        return parse(WireTokenPage, answer.body, answer.content_type, what)


def _not_a_user(app: AppSpec, error: RotationError) -> str:
    status = getattr(error, "status", None)
    return (
        f"the identity is not a user of app {app.name}, or not with a role that may read users (HTTP {status}): "
        f"add it as Administrator (`rotation bootstrap --app {app.name}`); {PROPAGATION}"
    )


def app_check(report: DoctorReport, runtime: Runtime, app: AppSpec, claims: dict[str, Any]) -> None:
    """The identity is an Administrator (root organization) of the app and can list its API tokens."""
    name = f"iotcentral {app.name}"
    if app.api_token_slot is not None:
        report.add(_token_slot_check(runtime, app, name))
        return
    oid, tid = str(claims.get("oid", "")).lower(), str(claims.get("tid", "")).lower()
    probe = Probe(runtime, app, report.failures.setdefault(app.name, []))
    try:
        users = [u for u in probe.users() if (u.object_id or "").lower() == oid and (u.tenant_id or "").lower() == tid]
        count: int | None = len(runtime.iotcentral(app).list_tokens()) if users else None
    except AuthError as exc:
        detail = (
            _not_a_user(app, exc)
            if exc.status == 403
            else (f"IoT Central refused the identity's token ({exc}): is the app in the identity's tenant?")
        )
        report.add(Check("FAIL", name, detail))
        return
    except (RotationError, AzureError) as exc:
        report.add(
            Check(
                "FAIL",
                name,
                f"cannot read app {app.name} ({exc}): is its base_url or subdomain right and the app reachable?",
            )
        )
        return
    if not users:
        report.add(
            Check(
                "FAIL",
                name,
                f"the identity (object id {oid}) is not a user of app {app.name} (perhaps "
                f"only through a group): add it as Administrator; {PROPAGATION}",
            )
        )
        return
    report.add(_role_check(app, name, users[0], count))


def _token_slot_check(runtime: Runtime, app: AppSpec, name: str) -> Check:
    """No identity (api_token_slot): the slot's own token must be an Administrator token that lists tokens."""
    try:
        listed = len(runtime.iotcentral(app).list_tokens())
    except RotationError as exc:
        return Check(
            "FAIL", name, f"{exc}: is the token of slot {app.api_token_slot} an Administrator token of {app.base_url}?"
        )
    return Check(
        "ok", name, f"the token of slot {app.api_token_slot} lists {listed} API tokens (api_token_slot: no identity)"
    )


def _role_check(app: AppSpec, name: str, user: WireUser, count: int | None) -> Check:
    """Only Administrator at the root organization may manage API tokens; any other role is named."""
    roles = user.roles
    if not any(r.role == ADMINISTRATOR and r.organization is None for r in roles):
        shown = ", ".join(r.role + (f"@{r.organization}" if r.organization else "") for r in roles)
        return Check(
            "FAIL",
            name,
            f"the identity is user {user.id} of app {app.name} with roles {shown}, "
            "not Administrator at the root organization, so it cannot manage API "
            f"tokens: give it Administrator without an organization; {PROPAGATION}",
        )
    return Check("ok", name, f"user {user.id} is Administrator; lists {count} API tokens")


# -- Key Vault -------------------------------------------------------------------------------------------
def _vault_problem(url: str, step: str, exc: BaseException) -> str:
    status = exc.status_code if isinstance(exc, HttpResponseError) else getattr(exc, "status", None)
    got = f"HTTP {status}" if status else type(exc).__name__
    if status == 403:
        return (
            f"the identity may not {step} secrets in {url} ({got}): assign it Key Vault Secrets Officer on "
            f"the vault (RBAC); {PROPAGATION}"
        )
    if status == 401:
        return f"the vault {url} refused the identity's token ({got}): is the vault in the identity's tenant?"
    return f"{step} a secret in {url}: got {got}: is the vault URL right and reachable (firewall, private endpoint)?"


def _round_trip(client: SecretClient, name: str, steps: list[str]) -> None:
    """Set, tag, read back; each step named in `steps` before it runs (a failure names the last one)."""
    steps.append("set")
    version = client.set_secret(
        name, secrets.token_urlsafe(16), tags=dict(DOCTOR_TAG), content_type="text/plain"
    ).properties.version
    steps.append("tag")
    client.update_secret_properties(name, version, tags={**DOCTOR_TAG, "doctor": "tagged"})
    steps.append("read")
    read = client.get_secret(name, version)
    if (read.properties.tags or {}).get("doctor") != "tagged":
        raise ValueError("the tag set a moment ago is missing")


def _remove(client: SecretClient, name: str) -> str:
    """Delete, then purge when allowed. Returns what happened; raises when the secret could not be deleted."""
    client.begin_delete_secret(name).result()
    try:
        client.purge_deleted_secret(name)
    except (AzureError, ValueError) as exc:
        status = exc.status_code if isinstance(exc, HttpResponseError) else type(exc).__name__
        return f"deleted; not purged ({status}: purge protection or no purge permission), it stays soft-deleted"
    return "deleted and purged"


def vault_check(report: DoctorReport, runtime: Runtime, url: str) -> None:
    name, secret = f"vault {url}", throwaway_id()
    settings = runtime.settings
    client = build_secret_client(
        url, runtime.credential_object(), ca_bundle=settings.ca_bundle, timeout=settings.http_timeout
    )
    steps: list[str] = []
    failure, removed, refused = "", "", False
    try:
        _round_trip(client, secret, steps)
    except (AzureError, RotationError, ValueError) as exc:
        failure = _vault_problem(url, steps[-1], exc)
        status = exc.status_code if isinstance(exc, HttpResponseError) else None
        refused = steps == ["set"] and status is not None and 400 <= status < 500  # nothing was made
    finally:
        try:
            removed = "" if refused else _remove(client, secret)
        except (AzureError, RotationError, ValueError) as exc:
            left = _vault_problem(url, "delete", exc) + f" ({secret} is left: delete it by hand)"
            failure = f"{failure}; {left}" if failure else left
        client.close()
    if failure:
        report.add(Check("FAIL", name, failure))
        return
    report.add(Check("ok", name, f"set, tagged, read back, {removed}: {secret}"))
