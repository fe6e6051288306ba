"""The IoT Central emulator's pure-Python seeding API (no HTTP): what the sandbox world builds on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from emulators.core import Clock, SandboxAuthority
from emulators.iotcentral import (
    ADMINISTRATOR,
    BUILDER,
    OPERATOR,
    ORG_VIEWER,
    ConflictError,
    IoTCentralApp,
    IoTCentralEmulator,
    RoleAssignment,
)
from emulators.iotcentral.access import authenticate

NOW = datetime(2030, 6, 1, tzinfo=UTC)


@pytest.fixture
def emulator() -> IoTCentralEmulator:
    return IoTCentralEmulator(SandboxAuthority(), clock=Clock(frozen_at=NOW))


@pytest.fixture
def app(emulator: IoTCentralEmulator) -> IoTCentralApp:
    return emulator.add_app("contoso", app_id="6d1b5c3e-0000-4000-8000-000000000001")


def test_roles_are_given_by_alias_id_display_name_or_with_an_organization(app: IoTCentralApp) -> None:
    app.add_organization("eu", "Europe")
    auditor = app.add_role("Fleet Auditor", {"devices.read"})
    user = app.add_email_user(
        "ana",
        email="ana@contoso.com",
        roles=["Administrator", BUILDER, "fleet auditor", {"role": "org_viewer", "organization": "eu"}],
    )
    assert user.roles == (
        RoleAssignment(ADMINISTRATOR),
        RoleAssignment(BUILDER),
        RoleAssignment(auditor.id),
        RoleAssignment(ORG_VIEWER, "eu"),
    )
    with pytest.raises(ValueError, match="role: got 'owner'"):
        app.add_email_user("bo", email="bo@contoso.com", roles=["owner"])
    with pytest.raises(ValueError, match="organization: got 'mars'"):
        app.create_token("t", [{"role": "operator", "organization": "mars"}])
    with pytest.raises(ValueError, match="at least one"):
        app.create_token("t", [])


def test_seeded_tokens_honour_the_clock_and_keep_no_value(emulator: IoTCentralEmulator, app: IoTCentralApp) -> None:
    value = app.create_token("yearly", ["operator"])
    info = app.tokens["yearly"]
    assert (info.created, info.expiry, info.usable_from) == (NOW, NOW + timedelta(days=365), NOW)
    assert value.endswith(f"&skn=yearly&se={int(info.expiry.timestamp() * 1000)}")
    assert value not in repr(app.tokens)
    assert "key=" not in repr(app.token_record("yearly"))
    caller = authenticate(app, value, authority=emulator.authority, now=NOW)
    assert (caller.kind, caller.id, caller.roles) == ("apiToken", "yearly", (RoleAssignment(OPERATOR),))


def test_seeding_may_create_expired_tokens_and_tokens_beyond_a_year(app: IoTCentralApp) -> None:
    app.create_token("expired", ["builder"], expiry=NOW - timedelta(days=6), created=NOW - timedelta(days=20))
    app.create_token("decade", ["builder"], expiry=NOW + timedelta(days=3650))
    assert app.tokens["expired"].expiry < NOW < app.tokens["decade"].expiry - timedelta(days=3000)


def test_seeded_tokens_work_at_once_whatever_the_propagation_delay(
    emulator: IoTCentralEmulator, app: IoTCentralApp
) -> None:
    emulator.propagation_delay = timedelta(minutes=5)
    app.create_token("fresh", ["operator"])
    app.create_token("old", ["operator"], created=NOW - timedelta(days=1))
    assert app.tokens["fresh"].usable_from == NOW
    assert app.tokens["old"].usable_from == NOW - timedelta(days=1)


def test_the_default_propagation_delay_is_not_zero(emulator: IoTCentralEmulator) -> None:
    assert emulator.propagation_delay == timedelta(seconds=1.25)


def test_token_ids_are_unique_and_safe(app: IoTCentralApp) -> None:
    app.create_token("t", ["operator"])
    with pytest.raises(ConflictError):
        app.create_token("t", ["operator"])
    with pytest.raises(ValueError, match="token id"):
        app.create_token("a/b", ["operator"])
    assert app.delete_token("t") is True
    assert app.delete_token("t") is False
    assert "t" not in app.tokens


def test_organizations_form_a_tree_with_valid_ids(app: IoTCentralApp) -> None:
    app.add_organization("eu", "Europe")
    app.add_organization("eu-north", "North", parent="eu")
    app.add_organization("se", "Sweden", parent="eu-north")
    app.add_organization("us", "US")
    assert app.subtree(["eu"]) == {"eu", "eu-north", "se"}
    assert app.subtree(["us", "se"]) == {"us", "se"}
    with pytest.raises(ValueError, match="organization id"):
        app.add_organization("EU", "Upper case")
    with pytest.raises(ValueError, match="parent"):
        app.add_organization("asia", "Asia", parent="world")
    with pytest.raises(ConflictError):
        app.add_organization("eu", "Again")
    with pytest.raises(ValueError, match="organization"):
        app.add_device("d", organization="asia")


def test_users_are_unique_by_email_and_principal(app: IoTCentralApp) -> None:
    app.add_service_principal("svc", object_id="o", tenant_id="t", roles=["administrator"])
    with pytest.raises(ConflictError, match="objectId"):
        app.add_service_principal("svc2", object_id="o", tenant_id="t", roles=["operator"])
    app.add_email_user("ana", email="ana@contoso.com", roles=["operator"])
    with pytest.raises(ConflictError, match="email"):
        app.add_email_user("ana2", email="ANA@contoso.com", roles=["operator"])
    with pytest.raises(ValueError, match="user id"):
        app.add_email_user("ana.b", email="b@contoso.com", roles=["operator"])
    found = app.service_principal("o", "t")
    assert found is not None
    assert found.id == "svc"


def test_custom_roles_need_known_permissions(app: IoTCentralApp) -> None:
    with pytest.raises(ValueError, match="permissions"):
        app.add_role("Wizard", {"devices.read", "magic.cast"})
    role = app.add_role("Reader", ["devices.read"], role_id="r-1")
    with pytest.raises(ConflictError):
        app.add_role("Reader again", ["devices.read"], role_id="r-1")
    assert app.role("r-1") == role


def test_apps_and_knobs_are_checked(emulator: IoTCentralEmulator, app: IoTCentralApp) -> None:
    assert emulator.app("contoso") is app
    assert IoTCentralEmulator.app_url("https://127.0.0.1:1/", "contoso") == "https://127.0.0.1:1/apps/contoso"
    with pytest.raises(ValueError, match="already exists"):
        emulator.add_app("contoso")
    with pytest.raises(KeyError, match="nowhere"):
        emulator.app("nowhere")
    with pytest.raises(ValueError, match="expiry_policy"):
        emulator.expiry_policy = "forever"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="page_size"):
        emulator.page_size = 0


def test_concurrent_creation_keeps_every_token_and_one_winner_per_id(app: IoTCentralApp) -> None:
    wins: list[str] = []
    conflicts: list[str] = []
    lock = threading.Lock()

    def create(token_id: str) -> None:
        try:
            app.create_token(token_id, ["operator"])
        except ConflictError:
            with lock:
                conflicts.append(token_id)
        else:
            with lock:
                wins.append(token_id)

    threads = [threading.Thread(target=create, args=(f"t{n % 10}",)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(f"t{n}" for n in range(10))
    assert len(conflicts) == 40
    assert len(app.tokens) == 10
