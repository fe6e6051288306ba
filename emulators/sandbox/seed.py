"""The sample world: three IoT Central apps, one iottly project and one vault, seeded with every case
the rotation engine and the audit must handle.

- contoso-fleet: a fresh managed token (dashboard-reader) whose previous version is past its grace
  period; a due token (auditor: custom role "Fleet Auditor" scoped to organization store-eu); a slot whose
  vault value no longer authenticates (maintenance: a corrupted copy); an orphan managed token; a
  human-made admin token.
- fabrikam-stores: an expired managed token still present (exporter); a token whose roles drifted from
  the policy and whose version has no expiry (reporting); a current version whose token was deleted from
  the app by hand (alerts); an unmanaged token with a far-future expiry whose allowlist exception has
  expired (legacy-export).
- northwind-labs: the service's identity is not a user yet (bootstrap has work to do); a declared slot
  with no token; a human-made token; the one-off admin token for bootstrap.
- iottly greenhouse: an ingest key imported 120 days ago (older than its max_age P90D); an export key
  deleted in iottly's web UI but still in the vault; a telemetry key declared but never imported.

The audit's controls each find at least one FAIL here (MANUAL for the iottly key age), and PASS for
the compliant tokens (contoso's dashboard-reader); `AUDIT_VIOLATIONS` lists which ones, for the tests.

Managed token ids follow `rot-<slot>-<yyyymmddHHMMSS>-<4 chars>`; Key Vault versions carry the tags of
the rotation protocol (docs/protocol.md). Times are relative to the world's clock at seeding.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from emulators.iotcentral import IoTCentralApp

if TYPE_CHECKING:
    from emulators.sandbox.world import SandboxWorld  # a cycle at run time, only a type here

ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
BUILDER = "344138e9-8de4-4497-8c54-5237e96d6aaf"
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
FLEET_AUDITOR = "5d2f6c1e-9a7b-4c3d-8e1f-0a2b3c4d5e6f"
DAY = timedelta(days=1)

# control id -> a resource the sample world violates it with (app/resource), before the first run.
AUDIT_VIOLATIONS = {
    "IOTC-001": "contoso-fleet/tokens/ops-admin",
    "IOTC-002": "contoso-fleet/tokens/ops-admin",
    "IOTC-003": "fabrikam-stores/tokens/legacy-export",
    "IOTC-004": "fabrikam-stores/tokens/legacy-export",
    "IOTC-005": "fabrikam-stores/tokens/{exporter}",
    "IOTC-006": "contoso-fleet/slots/auditor",
    "IOTC-007": "fabrikam-stores/slots/alerts",
    "IOTC-008": "fabrikam-stores/slots/reporting",
    "IOTC-009": "contoso-fleet/tokens/{orphan}",
    "IOTC-010": "fabrikam-stores/secrets/iotc-fabrikam-stores-reporting/versions/*",
    "IOTC-011": "fabrikam-stores/tokens/legacy-export",
    "IOTC-012": "contoso-fleet/slots/maintenance",
    "IOTC-013": "northwind-labs/slots/telemetry-reader",
    "IOTC-014": "contoso-fleet/tokens/{previous}",
    "IOTY-001": "greenhouse/keys/export",
    "IOTY-002": "greenhouse/keys/ingest",
    "IOTY-003": "greenhouse/keys/telemetry",
}


def managed_id(slot: str, created: datetime, suffix: str) -> str:
    return f"rot-{slot}-{created:%Y%m%d%H%M%S}-{suffix}"


def roles_tag(roles: list[dict[str, str]]) -> str:
    return ",".join(r["role"] + (f"@{r['organization']}" if "organization" in r else "") for r in roles)


def _managed(
    world: SandboxWorld,
    app: IoTCentralApp,
    subdomain: str,
    slot: str,
    roles: list[dict[str, str]],
    *,
    created: datetime,
    lifetime: timedelta,
    suffix: str,
) -> tuple[str, str, datetime]:
    """Create a managed token as an earlier run would have; returns (id, value, expiry)."""
    token_id = managed_id(slot, created, suffix)
    expiry = created + lifetime
    value = app.create_token(token_id, roles, expiry=expiry)
    return token_id, value, expiry


def _store(
    world: SandboxWorld,
    secret: str,
    value: str,
    *,
    subdomain: str,
    slot: str,
    token_id: str,
    roles: list[dict[str, str]],
    expiry: datetime | None,
    created: datetime,
    stage: str,
    superseded_at: datetime | None = None,
) -> str:
    tags = {
        "managed-by": "rotation",
        "provider": "iotcentral",
        "app": subdomain,
        "slot": slot,
        "token-id": token_id,
        "roles": roles_tag(roles),
        "stage": stage,
    }
    if superseded_at is not None:
        tags["superseded-at"] = superseded_at.isoformat(timespec="seconds")
    return world.vault.seed_secret(
        secret,
        value,
        tags=tags,
        expires_on=expiry,
        created_on=created,
        content_type="application/vnd.iotcentral.apitoken",
    )


def _corrupt(value: str) -> str:
    """The same token with a damaged signature: still looks right, no longer authenticates."""
    head, _, rest = value.partition("sig=")
    return f"{head}sig=AAAA{rest[4:]}"


def seed_contoso(world: SandboxWorld, now: datetime) -> None:
    app = world.iotcentral.add_app("contoso-fleet")
    app.add_service_principal(
        "rotation-service",
        object_id=world.service.object_id,
        tenant_id=world.service.tenant_id,
        roles=[{"role": ADMINISTRATOR}],
    )
    app.add_organization("store-eu", "Stores EU")
    app.add_organization("store-eu-north", "Stores EU North", parent="store-eu")
    app.add_role("Fleet Auditor", {"devices.read", "organizations.read"}, role_id=FLEET_AUDITOR)
    app.add_device("truck-001", organization="store-eu")
    app.add_device("truck-002", organization="store-eu-north")
    app.add_device("forklift-007")

    reader = [{"role": OPERATOR}]
    secret = "iotc-contoso-fleet-dashboard-reader"
    old_created, new_created = now - 28 * DAY, now - 3 * DAY
    old_id, old_value, old_exp = _managed(
        world, app, "contoso-fleet", "dashboard-reader", reader, created=old_created, lifetime=30 * DAY, suffix="a1b2"
    )
    _store(
        world,
        secret,
        old_value,
        subdomain="contoso-fleet",
        slot="dashboard-reader",
        token_id=old_id,
        roles=reader,
        expiry=old_exp,
        created=old_created,
        stage="previous",
        superseded_at=new_created,
    )
    new_id, new_value, new_exp = _managed(
        world, app, "contoso-fleet", "dashboard-reader", reader, created=new_created, lifetime=30 * DAY, suffix="c3d4"
    )
    _store(
        world,
        secret,
        new_value,
        subdomain="contoso-fleet",
        slot="dashboard-reader",
        token_id=new_id,
        roles=reader,
        expiry=new_exp,
        created=new_created,
        stage="current",
    )

    auditor = [{"role": FLEET_AUDITOR, "organization": "store-eu"}]
    due_created = now - 25 * DAY
    due_id, due_value, due_exp = _managed(
        world, app, "contoso-fleet", "auditor", auditor, created=due_created, lifetime=30 * DAY, suffix="e5f6"
    )
    _store(
        world,
        "iotc-contoso-fleet-auditor",
        due_value,
        subdomain="contoso-fleet",
        slot="auditor",
        token_id=due_id,
        roles=auditor,
        expiry=due_exp,
        created=due_created,
        stage="current",
    )

    # The vault holds a corrupted copy (a bad signature): consumers get 401 although the token exists.
    maint_created = now - 5 * DAY
    maint_id, maint_value, maint_exp = _managed(
        world, app, "contoso-fleet", "maintenance", reader, created=maint_created, lifetime=30 * DAY, suffix="m1n2"
    )
    _store(
        world,
        "iotc-contoso-fleet-maintenance",
        _corrupt(maint_value),
        subdomain="contoso-fleet",
        slot="maintenance",
        token_id=maint_id,
        roles=reader,
        expiry=maint_exp,
        created=maint_created,
        stage="current",
    )

    # A managed-looking token that no vault version references: a crashed run's leftover.
    _managed(
        world,
        app,
        "contoso-fleet",
        "dashboard-reader",
        reader,
        created=now - 10 * DAY,
        lifetime=30 * DAY,
        suffix="zz99",
    )
    # Made by a person in the web UI: reported, never revoked.
    app.create_token("ops-admin", [{"role": ADMINISTRATOR}], expiry=now + 300 * DAY)


def seed_fabrikam(world: SandboxWorld, now: datetime) -> None:
    app = world.iotcentral.add_app("fabrikam-stores")
    app.add_service_principal(
        "rotation-service",
        object_id=world.service.object_id,
        tenant_id=world.service.tenant_id,
        roles=[{"role": ADMINISTRATOR}],
    )
    app.add_device("fridge-01")
    exporter = [{"role": BUILDER}]
    created = now - 20 * DAY
    token_id, value, expiry = _managed(
        world, app, "fabrikam-stores", "exporter", exporter, created=created, lifetime=14 * DAY, suffix="g7h8"
    )
    _store(
        world,
        "iotc-fabrikam-stores-exporter",
        value,
        subdomain="fabrikam-stores",
        slot="exporter",
        token_id=token_id,
        roles=exporter,
        expiry=expiry,
        created=created,
        stage="current",
    )
    app.create_token("legacy-export", exporter, expiry=now + 3650 * DAY)

    # Policy says operator; the token was minted as builder (the policy changed since), and its version
    # was written without an expiry.
    drift_created = now - 2 * DAY
    drift_id, drift_value, _ = _managed(
        world, app, "fabrikam-stores", "reporting", exporter, created=drift_created, lifetime=14 * DAY, suffix="r2s3"
    )
    _store(
        world,
        "iotc-fabrikam-stores-reporting",
        drift_value,
        subdomain="fabrikam-stores",
        slot="reporting",
        token_id=drift_id,
        roles=exporter,
        expiry=None,
        created=drift_created,
        stage="current",
    )

    # Someone deleted the alerts token in the web UI: the vault's current version points at nothing.
    gone_created = now - 4 * DAY
    gone_id, gone_value, gone_exp = _managed(
        world,
        app,
        "fabrikam-stores",
        "alerts",
        [{"role": OPERATOR}],
        created=gone_created,
        lifetime=14 * DAY,
        suffix="t4u5",
    )
    app.delete_token(gone_id)
    _store(
        world,
        "iotc-fabrikam-stores-alerts",
        gone_value,
        subdomain="fabrikam-stores",
        slot="alerts",
        token_id=gone_id,
        roles=[{"role": OPERATOR}],
        expiry=gone_exp,
        created=gone_created,
        stage="current",
    )


def seed_northwind(world: SandboxWorld, now: datetime) -> str:
    """Returns the one-off admin token a person would paste into `rotation bootstrap`."""
    app = world.iotcentral.add_app("northwind-labs")
    app.add_device("sensor-a1")
    app.create_token("integration-test", [{"role": OPERATOR}], expiry=now + 200 * DAY)
    return app.create_token("bootstrap-admin", [{"role": ADMINISTRATOR}], expiry=now + 1 * DAY)


def seed_iottly(world: SandboxWorld, now: datetime) -> None:
    world.iottly.add_project("greenhouse")
    created = now - 120 * DAY
    key = world.iottly.add_key("greenhouse", "rotation: ingest", created_at=created)
    world.vault.seed_secret(
        "iottly-greenhouse-ingest",
        key.value,
        created_on=created,
        tags={
            "managed-by": "rotation",
            "provider": "iottly",
            "app": "greenhouse",
            "slot": "ingest",
            "key-id": key.id,
            "stage": "current",
            "imported-at": created.isoformat(timespec="seconds"),
        },
        content_type="application/vnd.iottly.apikey",
    )
    # Deleted in the web UI before a replacement was imported: the vault copy is rejected (401).
    export_created = now - 30 * DAY
    export = world.iottly.add_key("greenhouse", "rotation: export", created_at=export_created)
    world.vault.seed_secret(
        "iottly-greenhouse-export",
        export.value,
        created_on=export_created,
        expires_on=export_created + 90 * DAY,
        tags={
            "managed-by": "rotation",
            "provider": "iottly",
            "app": "greenhouse",
            "slot": "export",
            "key-id": export.id,
            "stage": "current",
            "imported-at": export_created.isoformat(timespec="seconds"),
        },
        content_type="application/vnd.iottly.apikey",
    )
    world.iottly.remove_key("greenhouse", export.id)


def seed_sample_world(world: SandboxWorld) -> str:
    """Seed everything; returns the northwind bootstrap admin token value (never printed)."""
    now = world.clock.now()
    seed_contoso(world, now)
    seed_fabrikam(world, now)
    bootstrap = seed_northwind(world, now)
    seed_iottly(world, now)
    return bootstrap
