"""The IoT Central emulator's refusals and faults: api-version, 400 bodies, 404, 405, 409, the per-app
rate limit (deterministic: the monotonic time source is injected), injected 429/5xx/latency/drop, and
the spec's error shape with ``x-ms-error-code`` on every one of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from emulators.conformance import SpecConformance
from emulators.core import Fault, SandboxAuthority, SandboxCA
from emulators.iotcentral import API_VERSIONS, OPERATOR
from emulators.iotcentral.ratelimit import SlidingWindowLimiter
from tests.integration.iotcentral_world import API, Iotc, IotcServer, error_of, running_iotc, serving


@pytest.fixture(scope="module")
def iotc_server(
    authority: SandboxAuthority, sandbox_ca: SandboxCA, conformance: dict[str, SpecConformance]
) -> Iterator[IotcServer]:
    with serving(authority, sandbox_ca, conformance) as server:
        yield server


@pytest.fixture
def iotc(iotc_server: IotcServer) -> Iotc:
    return iotc_server.fresh()


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("params", [{}, {"api-version": ""}, {"api-version": "2099-01-01"}, {"api-version": "7.4"}])
def test_a_missing_or_unknown_api_version_is_400(iotc: Iotc, params: dict[str, str]) -> None:
    with iotc.admin() as c:
        response = c.get("/apiTokens", params=params)
    assert response.status_code == 400
    assert "api-version" in error_of(response)["message"]


@pytest.mark.parametrize("version", sorted(API_VERSIONS))
def test_every_listed_api_version_is_accepted(iotc: Iotc, version: str) -> None:
    with iotc.admin() as c:
        assert c.get("/roles", params={"api-version": version}).status_code == 200


def test_unknown_app_route_and_method_are_errors_in_the_spec_shape(iotc: Iotc) -> None:
    with iotc.client(iotc.admin_token, subdomain="nowhere") as c:
        app = c.get("/apiTokens", params=API)
    with iotc.admin() as c:
        route = c.get("/jobs", params=API)
        method = c.post("/apiTokens", params=API, json={})
    assert (app.status_code, error_of(app)["code"]) == (404, "NotFound")
    assert "nowhere" in error_of(app)["message"]
    assert (route.status_code, error_of(route)["code"]) == (404, "NotFound")
    assert (method.status_code, error_of(method)["code"]) == (405, "MethodNotAllowed")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        ([], "expected a JSON object"),
        ({}, "roles"),
        ({"roles": []}, "at least one"),
        ({"roles": "operator"}, "roles"),
        ({"roles": [OPERATOR]}, "roles[0]"),
        ({"roles": [{}]}, "roles[0].role"),
        ({"roles": [{"role": "operator"}]}, "roles[0].role"),
        ({"roles": [{"role": OPERATOR, "organization": "mars"}]}, "roles[0].organization"),
        ({"roles": [{"role": OPERATOR}], "expiry": "next year"}, "expiry"),
        ({"roles": [{"role": OPERATOR}], "expiry": 1893456000}, "expiry"),
        ({"roles": [{"role": OPERATOR}], "expiry": "2020-01-01T00:00:00Z"}, "after now"),
        ({"roles": [{"role": OPERATOR}], "expiry": "2099-01-01T00:00:00"}, "time zone"),
    ],
)
def test_bad_api_token_bodies_are_400(iotc: Iotc, body: Any, fragment: str) -> None:
    with iotc.admin() as c:
        if isinstance(body, bytes):
            response = c.put("/apiTokens/t", params=API, content=body, headers={"Content-Type": "application/json"})
        else:
            response = c.put("/apiTokens/t", params=API, json=body)
    assert response.status_code == 400
    assert fragment in error_of(response)["message"]
    assert "t" not in iotc.app.tokens


@pytest.mark.parametrize("token_id", ["has space", "x" * 129, "semi;colon", "amp&ersand", "eq=ual"])
def test_token_ids_outside_the_safe_alphabet_are_400(iotc: Iotc, token_id: str) -> None:
    with iotc.admin() as c:
        response = c.put(f"/apiTokens/{token_id}", params=API, json={"roles": [{"role": OPERATOR}]})
    assert response.status_code == 400
    assert "tokenId" in error_of(response)["message"]


def test_the_longest_and_oddest_safe_token_id_is_accepted(iotc: Iotc) -> None:
    token_id = "Rot_1.2~x-" + "y" * 118
    with iotc.admin() as c:
        value = c.put(f"/apiTokens/{token_id}", params=API, json={"roles": [{"role": OPERATOR}]}).json()["token"]
    with iotc.client(value) as c:
        assert c.get("/devices", params=API).status_code == 200


def test_creating_an_existing_token_id_is_409_and_keeps_the_first(iotc: Iotc) -> None:
    with iotc.admin() as c:
        first = c.put("/apiTokens/dup", params=API, json={"roles": [{"role": OPERATOR}]})
        second = c.put("/apiTokens/dup", params=API, json={"roles": [{"role": OPERATOR}]})
    assert (first.status_code, second.status_code) == (200, 409)
    assert error_of(second)["code"] == "Conflict"
    with iotc.client(first.json()["token"]) as c:
        assert c.get("/devices", params=API).status_code == 200


@pytest.mark.parametrize(
    ("user_id", "body", "fragment"),
    [
        ("u1", {"roles": [{"role": OPERATOR}]}, "type"),
        ("u1", {"type": "robot", "roles": [{"role": OPERATOR}]}, "type"),
        ("u1", {"type": "email", "roles": [{"role": OPERATOR}]}, "email"),
        ("u1", {"type": "email", "email": "not-an-address", "roles": [{"role": OPERATOR}]}, "email"),
        ("u1", {"type": "email", "email": "a@b.c"}, "roles"),
        ("u1", {"type": "servicePrincipal", "tenantId": "t", "roles": [{"role": OPERATOR}]}, "objectId"),
        ("u1", {"type": "adGroup", "objectId": "o", "roles": [{"role": OPERATOR}]}, "tenantId"),
        ("u1", {"type": "servicePrincipal", "tenantId": "t", "objectId": "o", "roles": [{"role": "nope"}]}, "role"),
        ("u" * 49, {"type": "email", "email": "a@b.c", "roles": [{"role": OPERATOR}]}, "userId"),
        ("bad.id", {"type": "email", "email": "a@b.c", "roles": [{"role": OPERATOR}]}, "userId"),
    ],
)
def test_bad_user_bodies_are_400(iotc: Iotc, user_id: str, body: dict[str, Any], fragment: str) -> None:
    with iotc.admin() as c:
        response = c.put(f"/users/{user_id}", params=API, json=body)
    assert response.status_code == 400
    assert fragment in error_of(response)["message"]


def test_duplicate_email_or_principal_is_409(iotc: Iotc) -> None:
    iotc.app.add_email_user("ana", email="Ana@contoso.com", roles=["operator"])
    iotc.app.add_service_principal("svc", object_id="o", tenant_id="t", roles=["operator"])
    with iotc.admin() as c:
        email = c.put(
            "/users/ana2", params=API, json={"type": "email", "email": "ana@contoso.com", "roles": [{"role": OPERATOR}]}
        )
        principal = c.put(
            "/users/svc2",
            params=API,
            json={"type": "servicePrincipal", "objectId": "o", "tenantId": "t", "roles": [{"role": OPERATOR}]},
        )
        other_tenant = c.put(
            "/users/svc3",
            params=API,
            json={"type": "servicePrincipal", "objectId": "o", "tenantId": "t2", "roles": [{"role": OPERATOR}]},
        )
    assert (email.status_code, principal.status_code, other_tenant.status_code) == (409, 409, 200)
    assert error_of(principal)["code"] == "Conflict"


@pytest.mark.parametrize("path", ["/apiTokens/nope", "/roles/nope", "/users/nope", "/organizations/nope"])
def test_unknown_resources_are_404(iotc: Iotc, path: str) -> None:
    with iotc.admin() as c:
        response = c.get(path, params=API)
    assert (response.status_code, error_of(response)["code"]) == (404, "NotFound")


def test_a_bad_skiptoken_is_400(iotc: Iotc) -> None:
    with iotc.admin() as c:
        response = c.get("/apiTokens", params={**API, "$skiptoken": "x"})
    assert response.status_code == 400


def test_the_limiter_slides_over_one_second_of_monotonic_time() -> None:
    clock = FakeMonotonic()
    limiter = SlidingWindowLimiter(monotonic=clock)
    assert [limiter.acquire(3) for _ in range(3)] == [None, None, None]
    assert limiter.acquire(3) == 1
    clock.now += 0.5
    assert limiter.acquire(3) == 1  # the first three are still inside the window
    clock.now += 0.5
    assert limiter.acquire(3) is None  # they have left it
    assert limiter.acquire(None) is None
    assert limiter.acquire(0) == 1
    burst = SlidingWindowLimiter(window=10.0, monotonic=clock)
    assert burst.acquire(1) is None
    clock.now += 2.5
    assert burst.acquire(1) == 8  # ceil(10 - 2.5)


def test_a_burst_over_http_gets_429_with_retry_after_per_app(
    authority: SandboxAuthority, sandbox_ca: SandboxCA, conformance: dict[str, SpecConformance]
) -> None:
    clock = FakeMonotonic()
    with running_iotc(authority, sandbox_ca, conformance, rate_limit=20, monotonic=clock) as iotc:
        other = iotc.other.create_token("admin", ["administrator"])
        with iotc.admin() as c:
            statuses = [c.get("/devices", params=API).status_code for _ in range(21)]
            throttled = c.get("/devices", params=API)
            with iotc.client(other, subdomain=iotc.other.subdomain) as o:
                assert o.get("/devices", params=API).status_code == 200
            iotc.emulator.rate_limit = None
            assert c.get("/devices", params=API).status_code == 200
            iotc.emulator.rate_limit = 20
            clock.now += 1.0
            assert c.get("/devices", params=API).status_code == 200
    assert statuses == [200] * 20 + [429]
    assert throttled.headers["Retry-After"] == "1"
    assert error_of(throttled)["code"] == "TooManyRequests"
    assert iotc.emulator.counters.get("Devices_List", 429) == 2


def test_an_injected_throttle_answers_429_with_retry_after(iotc: Iotc) -> None:
    iotc.emulator.faults.add(Fault("throttle", route="ApiTokens_List", times=1, retry_after=7))
    with iotc.admin() as c:
        throttled = c.get("/apiTokens", params=API)
        after = c.get("/apiTokens", params=API)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert error_of(throttled)["code"] == "TooManyRequests"
    assert after.status_code == 200


@pytest.mark.parametrize("status", [500, 503])
def test_injected_server_errors_use_the_error_shape(iotc: Iotc, status: int) -> None:
    iotc.emulator.faults.add(Fault("error", route="ApiTokens_Create", status=status, times=1))
    with iotc.admin() as c:
        failed = c.put("/apiTokens/t", params=API, json={"roles": [{"role": OPERATOR}]})
        listed = c.get("/apiTokens", params=API)
    assert failed.status_code == status
    assert error_of(failed)["code"] in {"InternalServerError", "ServiceUnavailable"}
    assert listed.status_code == 200
    assert "t" not in iotc.app.tokens


def test_an_injected_latency_delays_but_answers(iotc: Iotc) -> None:
    iotc.emulator.faults.add(Fault("latency", route="Roles_List", latency=0.05, times=1))
    with iotc.admin() as c:
        started = time.monotonic()
        response = c.get("/roles", params=API)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.05


def test_a_dropped_connection_is_a_transport_error(iotc: Iotc) -> None:
    iotc.emulator.faults.add(Fault("drop", route="ApiTokens_Remove", times=1))
    with iotc.admin() as c, pytest.raises(httpx.TransportError):
        c.delete("/apiTokens/admin", params=API)
    assert iotc.emulator.counters.get("ApiTokens_Remove", 0) == 1
    assert "admin" in iotc.app.tokens


def test_an_internal_failure_is_500_in_the_error_shape(
    authority: SandboxAuthority, sandbox_ca: SandboxCA, conformance: dict[str, SpecConformance]
) -> None:
    def broken() -> float:
        raise RuntimeError("monotonic clock failed")

    with running_iotc(authority, sandbox_ca, conformance, rate_limit=5, monotonic=broken) as iotc, iotc.admin() as c:
        response = c.get("/devices", params=API)
    assert response.status_code == 500
    assert error_of(response)["code"] == "InternalServerError"
    assert "monotonic" not in response.text


def test_error_times_follow_the_emulated_clock(iotc: Iotc) -> None:
    iotc.emulator.clock.advance(timedelta(days=400))
    with iotc.client() as c:
        response = c.get("/devices", params=API)
    assert f"{iotc.emulator.clock.now():%d %b %Y}" in error_of(response)["time"]
