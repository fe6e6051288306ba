"""Who may call the IoT Central emulator: 401 for missing, garbled, foreign, expired or not-yet-propagated
credentials (bearer JWTs and API tokens alike), 403 for valid callers without the permission."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest

from emulators.conformance import SpecConformance
from emulators.core import SandboxAuthority, SandboxCA
from emulators.iotcentral import BUILDER, OPERATOR, ORG_ADMIN
from tests.integration.iotcentral_world import API, Iotc, IotcServer, error_of, serving


@pytest.fixture(scope="module")
def iotc_server(
    authority: SandboxAuthority, sandbox_ca: SandboxCA, conformance: dict[str, SpecConformance]
) -> Iterator[IotcServer]:
    with serving(authority, sandbox_ca, conformance) as server:
        yield server


@pytest.fixture
def iotc(iotc_server: IotcServer) -> Iotc:
    return iotc_server.fresh()


def _status(iotc: Iotc, authorization: str | None, path: str = "/devices") -> tuple[int, str]:
    with iotc.client(authorization) as c:
        response = c.get(path, params=API)
    if response.status_code >= 400:
        return response.status_code, error_of(response)["message"]
    return response.status_code, ""


def test_no_authorization_header_is_401_in_the_error_shape(iotc: Iotc) -> None:
    with iotc.client() as c:
        response = c.get("/apiTokens", params=API)
    assert response.status_code == 401
    assert error_of(response)["code"] == "Unauthorized"
    assert response.headers["x-ms-request-id"] == response.json()["error"]["requestId"]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "SharedAccessSignature",
        "SharedAccessSignature garbage",
        "SharedAccessSignature sr=x&sig=y",
        "SharedAccessSignature sr=x&sig=y&skn=admin&se=soon",
        "SharedAccessSignature sr=x&sig=y&sig=z&skn=admin&se=1",
    ],
)
def test_garbled_credentials_are_401(iotc: Iotc, header: str) -> None:
    assert _status(iotc, header)[0] == 401


def test_bearer_tokens_need_this_authority_the_right_audience_and_time(iotc: Iotc) -> None:
    sp = iotc.app.add_service_principal("svc", object_id="oid-1", tenant_id="tid-1", roles=["operator"])
    assert sp.type == "servicePrincipal"
    good = iotc.bearer(oid="oid-1", tid="tid-1")
    assert _status(iotc, good) == (200, "")
    assert _status(iotc, iotc.bearer(oid="oid-1", tid="tid-1", audience="https://vault.azure.net"))[0] == 401
    foreign = iotc.bearer(oid="oid-1", tid="tid-1", authority=SandboxAuthority())
    assert _status(iotc, foreign)[0] == 401
    iotc.emulator.clock.advance(timedelta(hours=2))
    status, message = _status(iotc, good)
    assert (status, "expired" in message) == (401, True)


def test_an_unknown_service_principal_is_403(iotc: Iotc) -> None:
    iotc.app.add_service_principal("svc", object_id="oid-1", tenant_id="tid-1", roles=["administrator"])
    assert _status(iotc, iotc.bearer(oid="oid-2", tid="tid-1"))[0] == 403
    # same object id in another tenant is another principal
    assert _status(iotc, iotc.bearer(oid="oid-1", tid="tid-2"))[0] == 403
    # an AD group or email user with that object id does not make the caller a user
    iotc.app.add_ad_group("group", object_id="oid-3", tenant_id="tid-1", roles=["administrator"])
    assert _status(iotc, iotc.bearer(oid="oid-3", tid="tid-1"))[0] == 403


def test_a_service_principal_has_the_permissions_of_its_roles(iotc: Iotc) -> None:
    iotc.app.add_service_principal("svc", object_id="oid-1", tenant_id="tid-1", roles=["operator"])
    bearer = iotc.bearer(oid="oid-1", tid="tid-1")
    assert _status(iotc, bearer, "/devices")[0] == 200
    assert _status(iotc, bearer, "/apiTokens")[0] == 403
    assert _status(iotc, bearer, "/users")[0] == 403


def test_a_tampered_api_token_is_401(iotc: Iotc) -> None:
    value = iotc.app.create_token("reader", ["operator"])
    head, _, rest = value.partition("&sig=")
    sig, _, tail = rest.partition("&")
    assert _status(iotc, value)[0] == 200
    flipped = quote(("A" if sig[0] != "A" else "B") + sig[1:], safe="%")
    assert _status(iotc, f"{head}&sig={flipped}&{tail}")[0] == 401
    se = int(tail.rsplit("&se=", 1)[1])
    longer = value.replace(f"&se={se}", f"&se={se + 86_400_000}")
    assert _status(iotc, longer)[0] == 401
    as_admin = value.replace("&skn=reader", "&skn=admin")
    assert _status(iotc, as_admin)[0] == 401


def test_an_api_token_of_another_app_is_401(iotc: Iotc) -> None:
    foreign = iotc.other.create_token("admin", ["administrator"])
    assert _status(iotc, foreign)[0] == 401
    with iotc.client(foreign, subdomain=iotc.other.subdomain) as c:
        assert c.get("/apiTokens", params=API).status_code == 200


def test_an_expired_api_token_is_401(iotc: Iotc) -> None:
    value = iotc.app.create_token("brief", ["operator"], expiry=iotc.emulator.clock.now() + timedelta(hours=1))
    assert _status(iotc, value)[0] == 200
    iotc.emulator.clock.advance(timedelta(hours=1, seconds=1))
    status, message = _status(iotc, value)
    assert (status, "expired" in message) == (401, True)


def test_a_new_token_is_refused_until_it_has_propagated(iotc: Iotc) -> None:
    iotc.emulator.propagation_delay = timedelta(seconds=30)
    with iotc.admin() as c:
        value = c.put("/apiTokens/fresh", params=API, json={"roles": [{"role": OPERATOR}]}).json()["token"]
    status, message = _status(iotc, value)
    assert (status, "not active yet" in message) == (401, True)
    iotc.emulator.clock.advance(timedelta(seconds=29))
    assert _status(iotc, value)[0] == 401
    iotc.emulator.clock.advance(timedelta(seconds=1))
    assert _status(iotc, value)[0] == 200


@pytest.mark.parametrize(
    ("roles", "path", "status"),
    [
        (["operator"], "/apiTokens", 403),
        (["operator"], "/roles", 403),
        (["operator"], "/organizations", 200),
        (["builder"], "/roles", 200),
        (["builder"], "/users", 403),
        (["builder"], "/apiTokens", 403),
        ([{"role": ORG_ADMIN}], "/users", 200),
        # an organization-scoped assignment never grants application-wide powers
        ([{"role": "administrator", "organization": "eu"}], "/apiTokens", 403),
        ([{"role": "administrator", "organization": "eu"}], "/devices", 200),
    ],
)
def test_authenticated_callers_without_the_permission_get_403(
    iotc: Iotc, roles: list[str | dict[str, str]], path: str, status: int
) -> None:
    value = iotc.app.create_token("caller", roles)
    assert _status(iotc, value, path)[0] == status


def test_an_operator_token_cannot_mint_or_revoke_tokens(iotc: Iotc) -> None:
    value = iotc.app.create_token("op", ["operator"])
    with iotc.client(value) as c:
        minted = c.put("/apiTokens/escalate", params=API, json={"roles": [{"role": BUILDER}]})
        revoked = c.delete("/apiTokens/admin", params=API)
    assert (minted.status_code, revoked.status_code) == (403, 403)
    assert error_of(minted)["code"] == "Forbidden"
    assert set(iotc.app.tokens) == {"admin", "op"}
