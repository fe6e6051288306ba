"""Building an audit runtime on the sample world from the sandbox's real policy file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import POLICIES
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs


def register_northwind(world: RunningWorld) -> None:
    """What `rotation bootstrap` does for northwind-labs (tested elsewhere), done directly."""
    service = world.world.service
    world.world.iotcentral.app("northwind-labs").add_service_principal(
        "rotation-service",
        object_id=service.object_id,
        tenant_id=service.tenant_id,
        roles=[{"role": "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"}],
    )


def audit_runtime(
    world: RunningWorld, reports: Path, offset: timedelta = timedelta(0), extra: dict[str, str] | None = None
) -> Runtime:
    env = {
        "ROTATION_CA_BUNDLE": str(world.ca.pem_path),
        "ROTATION_POLICIES": str(POLICIES),
        "ROTATION_REPORTS_DIR": str(reports),
        **(extra or {}),
    }
    if offset:
        env["ROTATION_CLOCK_OFFSET"] = f"PT{int(offset.total_seconds())}S"
    settings = Settings.from_env(env)
    apps, iottly = load_app_specs(settings, world.settings())
    return Runtime(settings, apps, iottly_apps=iottly)


def vault_values(world: RunningWorld) -> set[str]:
    values = {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
    if world.bootstrap_token_file:
        values.add(world.bootstrap_token_file.read_text(encoding="utf-8").strip())
    return {v for v in values if v}
