"""The IoT Central emulator's routes over HTTPS with httpx: every operation, API token life cycle and
expiry rules, users, roles, organizations, org-scoped devices, paging, counters, the real
`ManagedIdentityCredential`, and the standalone runner. Every response is checked against the spec."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.identity import ManagedIdentityCredential

from emulators.conformance import SpecConformance
from emulators.core import SandboxAuthority, SandboxCA
from emulators.identity import ManagedIdentity
from emulators.iotcentral import ADMINISTRATOR, BUILDER, OPERATOR, ORG_ADMIN, ORG_OPERATOR, ORG_VIEWER
from tests.integration.iotcentral_world import ALL_OPERATIONS, API, Iotc, IotcServer, error_of, serving

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def iotc_server(
    authority: SandboxAuthority, sandbox_ca: SandboxCA, conformance: dict[str, SpecConformance]
) -> Iterator[IotcServer]:
    with serving(authority, sandbox_ca, conformance) as server:
        yield server


@pytest.fixture
def iotc(iotc_server: IotcServer) -> Iotc:
    return iotc_server.fresh()


def _collect(client: httpx.Client, path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every item of a list operation, following nextLink; and the nextLinks seen."""
    response = client.get(path, params=API)
    items: list[dict[str, Any]] = []
    links: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        if "nextLink" not in body:
            return items, links
        links.append(body["nextLink"])
        response = client.get(body["nextLink"])


def test_every_operation_answers_an_administrator(iotc: Iotc, conformance: dict[str, SpecConformance]) -> None:
    with iotc.admin() as c:
        assert c.get("/apiTokens", params=API).status_code == 200
        assert c.put("/apiTokens/t1", params=API, json={"roles": [{"role": OPERATOR}]}).status_code == 200
        assert c.get("/apiTokens/t1", params=API).status_code == 200
        assert c.delete("/apiTokens/t1", params=API).status_code == 204
        assert c.get("/roles", params=API).status_code == 200
        assert c.get(f"/roles/{BUILDER}", params=API).status_code == 200
        user = {"type": "email", "email": "ana@contoso.com", "roles": [{"role": OPERATOR}]}
        assert c.put("/users/ana", params=API, json=user).status_code == 200
        assert c.get("/users", params=API).status_code == 200
        assert c.get("/users/ana", params=API).status_code == 200
        assert c.delete("/users/ana", params=API).status_code == 204
        assert c.get("/organizations", params=API).status_code == 200
        assert c.get("/organizations/eu", params=API).status_code == 200
        assert c.get("/devices", params=API).status_code == 200
    assert set(conformance["iotcentral"].checked) >= ALL_OPERATIONS


def test_the_token_value_is_returned_by_create_only_and_authenticates(iotc: Iotc) -> None:
    with iotc.admin() as c:
        created = c.put("/apiTokens/reader-1", params=API, json={"roles": [{"role": OPERATOR}]}).json()
        got = c.get("/apiTokens/reader-1", params=API).json()
        listed = c.get("/apiTokens", params=API).json()["value"]
    value = created["token"]
    assert value.startswith(f"SharedAccessSignature sr={iotc.app.app_id}&sig=")
    expiry = datetime.fromisoformat(created["expiry"])
    assert value.endswith(f"&skn=reader-1&se={int(expiry.timestamp() * 1000)}")
    assert "token" not in got
    assert got == {k: v for k, v in created.items() if k != "token"}
    assert all("token" not in item for item in listed)
    assert {item["id"] for item in listed} == {"admin", "reader-1"}
    assert "token" not in repr(iotc.app.tokens["reader-1"])
    with iotc.client(value) as reader:
        assert reader.get("/devices", params=API).status_code == 200


def test_default_expiry_is_one_year_on_the_emulated_clock(iotc: Iotc) -> None:
    iotc.emulator.clock.freeze(NOW)
    with iotc.client(iotc.app.create_token("frozen-admin", ["administrator"])) as c:
        body = c.put("/apiTokens/yearly", params=API, json={"roles": [{"role": OPERATOR}]}).json()
    assert body["expiry"] == "2031-01-15T12:00:00.000Z"
    assert iotc.app.tokens["yearly"].expiry == NOW + timedelta(days=365)


@pytest.mark.parametrize(
    ("policy", "requested", "expected"),
    [
        ("honor", timedelta(days=30), timedelta(days=30)),
        ("honor", timedelta(days=800), timedelta(days=800)),
        ("ignore", timedelta(days=30), timedelta(days=365)),
        ("clamp", timedelta(days=30), timedelta(days=30)),
        ("clamp", timedelta(days=800), timedelta(days=365)),
    ],
)
def test_expiry_policy_decides_what_a_requested_expiry_becomes(
    iotc: Iotc, policy: Any, requested: timedelta, expected: timedelta
) -> None:
    iotc.emulator.clock.freeze(NOW)
    iotc.emulator.expiry_policy = policy
    body = {"roles": [{"role": OPERATOR}], "expiry": (NOW + requested).isoformat()}
    with iotc.client(iotc.app.create_token("frozen-admin", ["administrator"])) as c:
        created = c.put("/apiTokens/t", params=API, json=body).json()
    assert datetime.fromisoformat(created["expiry"]) == NOW + expected
    assert created["token"].endswith(f"&se={int((NOW + expected).timestamp() * 1000)}")


def test_the_reject_expiry_policy_answers_400_naming_expiry_and_takes_the_body_without_it(iotc: Iotc) -> None:
    iotc.emulator.clock.freeze(NOW)
    iotc.emulator.expiry_policy = "reject"
    body = {"roles": [{"role": OPERATOR}], "expiry": (NOW + timedelta(days=30)).isoformat()}
    with iotc.client(iotc.app.create_token("frozen-admin", ["administrator"])) as c:
        refused = c.put("/apiTokens/t", params=API, json=body)
        assert refused.status_code == 400
        assert error_of(refused)["code"] == "BadRequest"
        assert error_of(refused)["message"].startswith("expiry: ")
        created = c.put("/apiTokens/t", params=API, json={"roles": body["roles"]}).json()
    assert datetime.fromisoformat(created["expiry"]) == NOW + timedelta(days=365)


def test_a_deleted_token_is_gone_and_its_value_is_refused(iotc: Iotc) -> None:
    with iotc.admin() as c:
        value = c.put("/apiTokens/short", params=API, json={"roles": [{"role": OPERATOR}]}).json()["token"]
        assert c.delete("/apiTokens/short", params=API).status_code == 204
        assert error_of(c.get("/apiTokens/short", params=API))["code"] == "NotFound"
        assert c.delete("/apiTokens/short", params=API).status_code == 404
        # the same id again is a new token with a new key: the old value stays dead
        assert c.put("/apiTokens/short", params=API, json={"roles": [{"role": OPERATOR}]}).status_code == 200
    with iotc.client(value) as old:
        assert old.get("/devices", params=API).status_code == 401


def test_users_of_every_type_are_created_read_listed_and_removed(iotc: Iotc) -> None:
    users = {
        "sp-1": {
            "type": "servicePrincipal",
            "tenantId": "t-1",
            "objectId": "o-1",
            "roles": [{"role": ORG_ADMIN, "organization": "eu"}],
        },
        "mail-1": {"type": "email", "email": "bo@contoso.com", "roles": [{"role": BUILDER}]},
        "group-1": {"type": "adGroup", "tenantId": "t-1", "objectId": "g-1", "roles": [{"role": ORG_VIEWER}]},
    }
    with iotc.admin() as c:
        for user_id, body in users.items():
            assert c.put(f"/users/{user_id}", params=API, json=body).json() == {"id": user_id, **body}
        assert c.get("/users/sp-1", params=API).json() == {"id": "sp-1", **users["sp-1"]}
        assert [u["id"] for u in c.get("/users", params=API).json()["value"]] == list(users)
        assert c.delete("/users/mail-1", params=API).status_code == 204
        assert c.get("/users/mail-1", params=API).status_code == 404
        assert c.delete("/users/mail-1", params=API).status_code == 404
    assert [u.id for u in iotc.app.users] == ["sp-1", "group-1"]


def test_put_on_an_existing_user_replaces_it(iotc: Iotc) -> None:
    body = {"type": "servicePrincipal", "tenantId": "t", "objectId": "o", "roles": [{"role": OPERATOR}]}
    with iotc.admin() as c:
        assert c.put("/users/svc", params=API, json=body).status_code == 200
        body["roles"] = [{"role": ADMINISTRATOR}]
        assert c.put("/users/svc", params=API, json=body).json()["roles"] == [{"role": ADMINISTRATOR}]
        assert len(c.get("/users", params=API).json()["value"]) == 1


def test_roles_and_organizations_are_listed_and_read(iotc: Iotc) -> None:
    auditor = iotc.app.add_role("Fleet Auditor", {"devices.read"})
    with iotc.admin() as c:
        roles = c.get("/roles", params=API).json()["value"]
        assert roles[:3] == [
            {"id": ADMINISTRATOR, "displayName": "Administrator"},
            {"id": BUILDER, "displayName": "Builder"},
            {"id": OPERATOR, "displayName": "Operator"},
        ]
        assert {r["id"] for r in roles} == {
            ADMINISTRATOR,
            BUILDER,
            OPERATOR,
            ORG_ADMIN,
            ORG_OPERATOR,
            ORG_VIEWER,
            auditor.id,
        }
        assert c.get(f"/roles/{auditor.id}", params=API).json() == {"id": auditor.id, "displayName": "Fleet Auditor"}
        assert c.get(f"/roles/{ORG_VIEWER}", params=API).json()["displayName"] == "Org Viewer"
        orgs = c.get("/organizations", params=API).json()["value"]
        assert [o["id"] for o in orgs] == ["eu", "eu-north", "us"]
        assert c.get("/organizations/eu-north", params=API).json() == {
            "id": "eu-north",
            "displayName": "Northern Europe",
            "parent": "eu",
        }


def test_devices_are_limited_to_the_organization_subtree_of_scoped_roles(iotc: Iotc) -> None:
    auditor = iotc.app.add_role("US Auditor", {"devices.read"})
    scoped = {
        "eu-viewer": ([{"role": ORG_VIEWER, "organization": "eu"}], ["d-eu", "d-eu-north"]),
        "north-op": ([{"role": ORG_OPERATOR, "organization": "eu-north"}], ["d-eu-north"]),
        "us-auditor": ([{"role": auditor.id, "organization": "us"}], ["d-us"]),
        "two-orgs": (
            [{"role": ORG_VIEWER, "organization": "eu-north"}, {"role": ORG_VIEWER, "organization": "us"}],
            ["d-eu-north", "d-us"],
        ),
        "operator": ([{"role": OPERATOR}], ["d-eu", "d-eu-north", "d-us", "d-none"]),
    }
    for token_id, (roles, expected) in scoped.items():
        value = iotc.app.create_token(token_id, roles)
        with iotc.client(value) as c:
            devices = c.get("/devices", params=API).json()["value"]
        assert [d["id"] for d in devices] == expected, token_id
    with iotc.admin() as c:
        every = {d["id"]: d for d in c.get("/devices", params=API).json()["value"]}
    assert every["d-us"] == {
        "id": "d-us",
        "displayName": "d-us",
        "enabled": False,
        "provisioned": True,
        "simulated": False,
        "organizations": ["us"],
    }
    assert every["d-none"]["organizations"] == []
    assert every["d-eu-north"]["simulated"] is True


def test_lists_page_with_absolute_next_links_that_keep_the_api_version(iotc: Iotc) -> None:
    iotc.emulator.page_size = 2
    for n in range(4):
        iotc.app.create_token(f"t{n}", ["operator"])
    with iotc.admin() as c:
        tokens, links = _collect(c, "/apiTokens")
        assert [t["id"] for t in tokens] == ["admin", "t0", "t1", "t2", "t3"]
        assert len(links) == 2
        assert all(
            link.startswith(f"{iotc.base_url}/apps/{iotc.app.subdomain}/api/apiTokens?api-version=2022-07-31&")
            for link in links
        )
        assert len(_collect(c, "/roles")[0]) == 6
        assert [d["id"] for d in _collect(c, "/devices")[0]] == ["d-eu", "d-eu-north", "d-us", "d-none"]
        assert len(_collect(c, "/organizations")[1]) == 1
        for n in range(3):
            iotc.app.add_email_user(f"u{n}", email=f"u{n}@contoso.com", roles=["operator"])
        assert [u["id"] for u in _collect(c, "/users")[0]] == ["u0", "u1", "u2"]


def test_paging_stays_complete_when_tokens_are_deleted_between_pages(iotc: Iotc) -> None:
    iotc.emulator.page_size = 2
    for n in range(4):
        iotc.app.create_token(f"t{n}", ["operator"])
    with iotc.admin() as c:
        first = c.get("/apiTokens", params=API).json()
        assert [t["id"] for t in first["value"]] == ["admin", "t0"]
        iotc.app.delete_token("t0")
        iotc.app.delete_token("t1")
        rest, _ = _collect_from(c, first["nextLink"])
    assert [t["id"] for t in rest] == ["t2", "t3"]


def _collect_from(client: httpx.Client, link: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    next_link: str | None = link
    while next_link:
        body = client.get(next_link).json()
        items.extend(body["value"])
        pages += 1
        next_link = body.get("nextLink")
    return items, pages


def test_counters_record_each_route_and_status(iotc: Iotc) -> None:
    with iotc.admin() as c:
        for _ in range(3):
            c.get("/apiTokens", params=API)
        c.get("/apiTokens/missing", params=API)
        c.get("/devices")  # no api-version
    counters = iotc.emulator.counters
    assert counters.get("ApiTokens_List", 200) == 3
    assert counters.get("ApiTokens_Get", 404) == 1
    assert counters.get("Devices_List", 400) == 1
    assert counters.snapshot()["ApiTokens_List"] == {"200": 3}


def test_the_real_managed_identity_credential_works_once_registered_as_administrator(
    iotc: Iotc, managed_identity_env: ManagedIdentity
) -> None:
    token = ManagedIdentityCredential().get_token("https://apps.azureiotcentral.com/.default").token
    with iotc.client(f"Bearer {token}") as c:
        assert error_of(c.get("/apiTokens", params=API))["code"] == "Forbidden"
        iotc.app.add_service_principal(
            "rotation-service",
            object_id=managed_identity_env.object_id,
            tenant_id=managed_identity_env.tenant_id,
            roles=["administrator"],
        )
        listed = c.get("/apiTokens", params=API)
        created = c.put("/apiTokens/rot-1", params=API, json={"roles": [{"role": OPERATOR}]})
    assert listed.status_code == 200
    assert created.json()["token"].startswith("SharedAccessSignature ")


def test_python_dash_m_runs_a_demo_app(tmp_path: Path) -> None:
    env_file = tmp_path / "iotc.env"
    process = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
        [sys.executable, "-m", "emulators.iotcentral", "--dir", str(tmp_path), "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env=dict(os.environ),
    )
    try:
        assert process.stdout is not None
        settings = dict(process.stdout.readline().strip().partition("=")[::2] for _ in range(4))
        token = Path(settings["SANDBOX_IOTCENTRAL_TOKEN_FILE"]).read_text(encoding="utf-8")
        assert Path(settings["SANDBOX_CA_BUNDLE"]).is_file()
        with httpx.Client(verify=ssl.create_default_context(cafile=settings["SANDBOX_CA_BUNDLE"]), timeout=10) as c:
            response = c.get(
                settings["SANDBOX_IOTCENTRAL_URL"] + "/api/devices", params=API, headers={"Authorization": token}
            )
        assert [d["id"] for d in response.json()["value"]] == ["demo-device-1", "demo-device-2"]
        assert token not in env_file.read_text(encoding="utf-8")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
