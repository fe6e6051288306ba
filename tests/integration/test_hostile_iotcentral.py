"""The IoT Central and iottly adapters against hostile or broken answers: foreign nextLinks and redirects,
HTML 200s, huge, truncated and mistyped bodies, a refused bearer, a failing credential, and creates whose
answer is lost. Each must end in the `RotationError` tree (listings: `IncompleteListingError`), send
nothing to another origin, and never believe what it cannot check."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.identity import ManagedIdentityCredential
from werkzeug.wrappers import Request, Response

from emulators.core import Fault, HttpError
from emulators.core.http import Route
from emulators.iotcentral import IoTCentralEmulator
from emulators.sandbox.world import SandboxWorld
from rotation.adapters.http import RetryPolicy
from rotation.adapters.iotcentral import IoTCentralClient
from rotation.adapters.iottly import IottlyClient
from rotation.domain.model import RoleAssignment
from rotation.domain.secret import Secret
from rotation.errors import (
    AuthError,
    ConfigError,
    IncompleteListingError,
    RotationError,
    ServiceError,
    VerificationError,
)
from tests.integration.hostile_support import Hostile, hostile_world, nothing_reached

OPERATOR = RoleAssignment("ae2c9854-393b-4f97-8c42-479d70ce626e")
APP = "contoso-fleet"
NEW_ID = "rot-test-20261123000000-abcd"
Call = Callable[[IoTCentralClient, datetime], Any]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    with hostile_world(tmp_path, monkeypatch) as world:
        yield world


@pytest.fixture
def http(hostile: Hostile) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=hostile.ca_path), trust_env=False) as client:
        yield client


def make_client(hostile: Hostile, http: httpx.Client, *, base_url: str | None = None) -> IoTCentralClient:
    return IoTCentralClient(
        base_url or hostile.running.app_url(APP),
        http,
        credential=ManagedIdentityCredential(),
        retry=RetryPolicy(sleep=lambda _: None),
    )


@pytest.fixture
def client(hostile: Hostile, http: httpx.Client) -> IoTCentralClient:
    return make_client(hostile, http)


def iotc(hostile: Hostile) -> IoTCentralEmulator:
    return hostile.running.world.iotcentral


def respond(
    hostile: Hostile,
    route: str,
    body: Any,
    *,
    times: int | None = 1,
    status: int = 200,
    content_type: str = "application/json",
    **extra: Any,
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    iotc(hostile).faults.add(
        Fault("respond", route=route, times=times, status=status, content_type=content_type, body=text, **extra)
    )


def token_json(**fields: Any) -> dict[str, Any]:
    return {"id": "someone-elses-token", "roles": [{"role": OPERATOR.role}], "expiry": "2027-01-01T00:00:00Z", **fields}


def expiry(hostile: Hostile) -> datetime:
    return hostile.running.world.clock.now() + timedelta(days=7)


# -- same origin ---------------------------------------------------------------------------------------------
def test_a_next_link_to_another_origin_is_never_followed(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_List", {"value": [token_json()], "nextLink": hostile.foreign_url + "/apiTokens"})
    with pytest.raises(IncompleteListingError) as raised:
        client.list_tokens()
    assert nothing_reached(hostile.foreign)
    assert "expected only https://127.0.0.1" in str(raised.value)


def test_a_next_link_differing_only_in_host_case_is_the_same_origin(hostile: Hostile, http: httpx.Client) -> None:
    base = hostile.running.app_url(APP).replace("127.0.0.1", "localhost")
    upper = base.replace("localhost", "LOCALHOST") + "/api/apiTokens?api-version=2022-07-31"
    respond(hostile, "ApiTokens_List", {"value": [token_json()], "nextLink": upper})
    tokens = make_client(hostile, http, base_url=base).list_tokens()
    assert "someone-elses-token" in {t.id for t in tokens}
    assert set(iotc(hostile).app(APP).tokens) <= {t.id for t in tokens}


@pytest.mark.parametrize(
    "link",
    [
        "https://127.0.0.1:99999/x",
        "https://[::1/x",
        "{app}/api/apiTokens\u0001",
        "//127.0.0.1/x",
        "javascript:alert(1)",
    ],
)
def test_an_unusable_next_link_is_incomplete(hostile: Hostile, client: IoTCentralClient, link: str) -> None:
    respond(hostile, "ApiTokens_List", {"value": [], "nextLink": link.format(app=hostile.running.app_url(APP))})
    with pytest.raises(IncompleteListingError):
        client.list_tokens()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize(
    ("route", "call"),
    [
        ("ApiTokens_List", lambda c, _: c.list_tokens()),
        ("Roles_List", lambda c, _: c.list_roles()),
        ("ApiTokens_Create", lambda c, when: c.create_token(NEW_ID, frozenset({OPERATOR}), when)),
        ("ApiTokens_Remove", lambda c, _: c.delete_token(NEW_ID)),
    ],
)
def test_a_redirect_is_an_error_and_nothing_reaches_its_target(
    hostile: Hostile, client: IoTCentralClient, route: str, call: Call, status: int
) -> None:
    iotc(hostile).faults.add(Fault("redirect", route=route, status=status, location=hostile.foreign_url + "/x"))
    with pytest.raises(ServiceError) as raised:
        call(client, expiry(hostile))
    assert nothing_reached(hostile.foreign)
    assert "redirect, not followed" in str(raised.value)


def test_a_client_that_follows_redirects_is_refused(hostile: Hostile) -> None:
    with httpx.Client(follow_redirects=True) as following, pytest.raises(ConfigError, match="follow_redirects"):
        make_client(hostile, following)


# -- answers that cannot be believed ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "page",
    [
        {"value": [token_json(id=123)]},
        {"value": [token_json(roles="operator")]},
        {"value": [token_json(roles=[])]},
        {"value": [token_json(roles=[{"role": "operator"}])]},
        {"value": [token_json(roles=[{"organization": "eu"}])]},
        {"value": [token_json(expiry=1767225600)]},
        {"value": [token_json(expiry="next tuesday")]},
        {"value": [token_json(id="../users/x")]},
        {"value": [{k: v for k, v in token_json().items() if k != "id"}]},
        {"value": "all of them"},
        {"tokens": []},
        {"value": [], "nextLink": 7},
        [],
    ],
    ids=[
        "id-number",
        "roles-string",
        "roles-empty",
        "role-not-guid",
        "role-missing",
        "expiry-number",
        "expiry-text",
        "id-path",
        "id-missing",
        "value-string",
        "value-missing",
        "nextlink-number",
        "list",
    ],
)
def test_a_mistyped_listing_is_incomplete(hostile: Hostile, client: IoTCentralClient, page: Any) -> None:
    respond(hostile, "ApiTokens_List", page)
    with pytest.raises(IncompleteListingError, match="does not match the API"):
        client.list_tokens()


def test_a_mistyped_role_listing_is_incomplete(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "Roles_List", {"value": [{"id": 5, "displayName": "Operator"}]})
    with pytest.raises(IncompleteListingError, match="does not match the API"):
        client.list_roles()


@pytest.mark.parametrize(
    ("route", "call", "error"),
    [
        ("ApiTokens_List", lambda c, _: c.list_tokens(), IncompleteListingError),
        ("Roles_List", lambda c, _: c.list_roles(), IncompleteListingError),
        ("ApiTokens_Create", lambda c, when: c.create_token(NEW_ID, frozenset({OPERATOR}), when), ServiceError),
        ("Users_Get", lambda c, _: c.get_user("someone"), ServiceError),
    ],
)
def test_an_html_200_is_not_an_answer(
    hostile: Hostile, client: IoTCentralClient, route: str, call: Call, error: type[Exception]
) -> None:
    respond(hostile, route, "<html><body>Sign in to continue</body></html>", content_type="text/html")
    with pytest.raises(error, match="expected application/json"):
        call(client, expiry(hostile))


def test_json_in_disguise_is_not_an_answer(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_List", {"value": []}, content_type="text/plain")
    with pytest.raises(IncompleteListingError, match="'text/plain'"):
        client.list_tokens()


def test_a_huge_answer_is_refused(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_List", '{"value": [], "padding": "' + "x" * 12_000_000 + '"}')
    with pytest.raises(IncompleteListingError, match="expected at most 4194304"):
        client.list_tokens()


def test_a_body_that_is_not_json_is_refused(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_List", '{"value": [')
    with pytest.raises(IncompleteListingError, match="not valid JSON"):
        client.list_tokens()


def test_a_truncated_answer_is_retried_and_then_incomplete(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_List", {"value": []}, truncate=100, times=1)
    assert client.list_tokens()  # the retry got the real listing
    respond(hostile, "ApiTokens_List", {"value": []}, truncate=100, times=None)
    with pytest.raises(IncompleteListingError, match="RemoteProtocolError"):
        client.list_tokens()


def test_verification_needs_a_json_answer(hostile: Hostile, client: IoTCentralClient) -> None:
    _, value = client.create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    hostile.running.world.clock.advance(iotc(hostile).propagation_delay)  # a new token is accepted after it
    respond(hostile, "Devices_List", "<html>welcome</html>", content_type="text/html")
    with pytest.raises(ServiceError, match="expected application/json") as raised:
        client.verify(value, "GET", "/api/devices")
    assert not isinstance(raised.value, VerificationError)
    client.verify(value, "GET", "/api/devices")  # the real answer


# -- refused bearer, failing credential --------------------------------------------------------------------------
def test_an_expired_bearer_is_an_auth_error_and_nothing_is_created(hostile: Hostile, client: IoTCentralClient) -> None:
    client.list_roles()  # the credential caches its token
    hostile.running.world.clock.advance(timedelta(hours=2))  # the app now sees that token as expired
    with pytest.raises(AuthError, match="401"):
        client.create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    with pytest.raises(IncompleteListingError) as listing:
        client.list_tokens()
    assert listing.value.status == 401
    assert NEW_ID not in iotc(hostile).app(APP).tokens


def test_a_failing_credential_is_an_auth_error(
    hostile: Hostile, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    with pytest.raises(AuthError, match="get an access token for IoT Central") as raised:
        make_client(hostile, http).create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    assert isinstance(raised.value, RotationError)
    assert iotc(hostile).counters.get("ApiTokens_Create") == 0


# -- creating a token: retried with the same id --------------------------------------------------------------------
def test_a_throttled_create_is_retried_honouring_retry_after(hostile: Hostile, http: httpx.Client) -> None:
    sleeps: list[float] = []
    client = IoTCentralClient(
        hostile.running.app_url(APP),
        http,
        credential=ManagedIdentityCredential(),
        retry=RetryPolicy(sleep=sleeps.append),
    )
    iotc(hostile).faults.add(Fault("throttle", route="ApiTokens_Create", times=1, retry_after=4))
    iotc(hostile).faults.add(Fault("error", route="ApiTokens_Create", times=1, status=503))
    token, value = client.create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    assert token.id == NEW_ID
    assert value.reveal()
    assert sleeps[0] == 4.0
    assert iotc(hostile).counters.get("ApiTokens_Create") == 3


def test_a_create_whose_answer_was_cut_off_is_retried_with_the_same_id(
    hostile: Hostile, client: IoTCentralClient
) -> None:
    respond(hostile, "ApiTokens_Create", {"id": NEW_ID}, truncate=50)  # not applied: the fault answered
    token, _ = client.create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    assert token.id == NEW_ID
    assert iotc(hostile).counters.get("ApiTokens_Create") == 2


class LosesCreateAnswers(IoTCentralEmulator):
    """Applies a create, then answers 500 instead of the created token, `lose` times."""

    lose = 0

    def routes(self) -> list[Route]:
        return [
            replace(r, handler=self._lossy(r.handler)) if r.name == "ApiTokens_Create" else r for r in super().routes()
        ]

    def _lossy(self, handler: Callable[..., Response]) -> Callable[..., Response]:
        def run(request: Request, **args: str) -> Response:
            response = handler(request, **args)
            if self.lose > 0 and response.status_code == 200:
                self.lose -= 1
                raise HttpError(500, "InternalServerError", "the answer was lost (injected)")
            return response

        return run


@pytest.fixture
def lossy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    world = SandboxWorld()
    world.iotcentral = LosesCreateAnswers(world.authority, clock=world.clock)
    with hostile_world(tmp_path, monkeypatch, world=world) as running:
        yield running


def test_a_create_applied_but_unanswered_is_deleted_and_reported(lossy: Hostile) -> None:
    emulator = iotc(lossy)
    assert isinstance(emulator, LosesCreateAnswers)
    emulator.lose = 1
    with (
        httpx.Client(verify=ssl.create_default_context(cafile=lossy.ca_path), trust_env=False) as http,
        pytest.raises(ServiceError, match=r"answer, the only one with the value, was lost .*deleted it"),
    ):
        make_client(lossy, http).create_token(NEW_ID, frozenset({OPERATOR}), expiry(lossy))
    assert NEW_ID not in emulator.app(APP).tokens
    counts = emulator.counters
    assert (counts.get("ApiTokens_Create", 500), counts.get("ApiTokens_Create", 409)) == (1, 1)
    assert (counts.get("ApiTokens_Get", 200), counts.get("ApiTokens_Remove", 204)) == (1, 1)


def test_a_plain_conflict_deletes_nothing(hostile: Hostile, client: IoTCentralClient) -> None:
    existing = next(t for t in iotc(hostile).app(APP).tokens if t.startswith("rot-"))
    with pytest.raises(ServiceError, match="409") as raised:
        client.create_token(existing, frozenset({OPERATOR}), expiry(hostile))
    assert raised.value.status == 409
    assert existing in iotc(hostile).app(APP).tokens
    assert iotc(hostile).counters.get("ApiTokens_Remove") == 0


def test_a_create_answer_for_another_id_is_refused(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_Create", token_json(id="other", token="SharedAccessSignature sr=x&sig=y"))
    with pytest.raises(ServiceError, match="expected 'rot-test") as raised:
        client.create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    assert "sig=y" not in str(raised.value)


def test_a_mistyped_create_answer_never_quotes_the_value(hostile: Hostile, client: IoTCentralClient) -> None:
    respond(hostile, "ApiTokens_Create", token_json(id=NEW_ID, roles="x", token="SharedAccessSignature sig=leak"))
    with pytest.raises(ServiceError, match="does not match the API") as raised:
        client.create_token(NEW_ID, frozenset({OPERATOR}), expiry(hostile))
    assert "leak" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


# -- iottly ----------------------------------------------------------------------------------------------------
@pytest.fixture
def iottly(hostile: Hostile, http: httpx.Client) -> IottlyClient:
    return IottlyClient(hostile.running.iottly_url, http, retry=RetryPolicy(sleep=lambda _: None))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html>pong</html>", "text/html"),
        ('{"status": "ok"}', "application/json"),
        ('{"status": ["pong"]}', "application/json"),
    ],
    ids=["html", "not-pong", "mistyped"],
)
def test_iottly_only_a_pong_accepts_a_key(hostile: Hostile, iottly: IottlyClient, body: str, content_type: str) -> None:
    hostile.running.world.iottly.faults.add(
        Fault("respond", route="project.ping", status=200, content_type=content_type, body=body)
    )
    with pytest.raises(ServiceError, match="iottly ping"):
        iottly.ping(Secret("any-key"))


def test_iottly_redirect_is_an_error_and_the_key_goes_nowhere(hostile: Hostile, iottly: IottlyClient) -> None:
    hostile.running.world.iottly.faults.add(
        Fault("redirect", route="project.ping", status=307, location=hostile.foreign_url + "/v1.0/project/ping")
    )
    with pytest.raises(ServiceError, match="redirect"):
        iottly.ping(Secret("any-key"))
    assert nothing_reached(hostile.foreign)
