"""The declared side of the sample world as AppSpecs (what the sandbox policy file declares)."""

from __future__ import annotations

from datetime import date, timedelta

from emulators.sandbox import RunningWorld
from rotation.domain.model import AllowedToken, AppSpec, SlotRole, SlotSpec

OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
BUILDER = "344138e9-8de4-4497-8c54-5237e96d6aaf"
DAY = timedelta(days=1)


def _slot(app: str, slot: str, roles: tuple[SlotRole, ...], lifetime: timedelta) -> SlotSpec:
    return SlotSpec(
        app=app,
        slot=slot,
        secret=f"iotc-{app}-{slot}",
        roles=roles,
        lifetime=lifetime,
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=90 * DAY,
    )


def sample_specs(world: RunningWorld) -> list[AppSpec]:
    def app(name: str, *slots: SlotSpec, allow: tuple[AllowedToken, ...] = ()) -> AppSpec:
        return AppSpec(
            name=name,
            base_url=world.app_url(name),
            vault=world.vault_url,
            slots=slots,
            allow_unmanaged=allow,
            forbid_roles=("administrator",),
        )

    return [
        app(
            "contoso-fleet",
            _slot("contoso-fleet", "dashboard-reader", (SlotRole(OPERATOR),), 30 * DAY),
            _slot("contoso-fleet", "auditor", (SlotRole("Fleet Auditor", "store-eu"),), 30 * DAY),
            _slot("contoso-fleet", "maintenance", (SlotRole(OPERATOR),), 30 * DAY),
        ),
        app(
            "fabrikam-stores",
            _slot("fabrikam-stores", "exporter", (SlotRole(BUILDER),), 14 * DAY),
            _slot("fabrikam-stores", "reporting", (SlotRole(OPERATOR),), 14 * DAY),
            _slot("fabrikam-stores", "alerts", (SlotRole(OPERATOR),), 14 * DAY),
            allow=(AllowedToken("legacy-export", date(2026, 1, 31), "export job migrates"),),
        ),
        app("northwind-labs", _slot("northwind-labs", "telemetry-reader", (SlotRole(OPERATOR),), 7 * DAY)),
    ]
