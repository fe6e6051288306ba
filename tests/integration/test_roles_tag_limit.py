"""A slot whose roles tag would pass Key Vault's 256-character tag value limit, against the emulators."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from emulators.keyvault.store import MAX_TAG_VALUE
from emulators.sandbox import RunningWorld
from rotation.domain.model import AppSpec, SlotRole, SlotSpec
from rotation.engine.jobs import run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import OPERATOR

ORGANIZATIONS = [f"plant-{n:02d}-north-europe" for n in range(8)]


def test_a_slot_with_many_organizations_rotates_without_a_key_vault_400(world: RunningWorld) -> None:
    contoso = world.world.iotcentral.app("contoso-fleet")
    for org in ORGANIZATIONS:
        contoso.add_organization(org, org)
    slot = SlotSpec(
        app="contoso-fleet",
        slot="plants",
        secret="iotc-contoso-fleet-plants",
        roles=tuple(SlotRole(OPERATOR, org) for org in ORGANIZATIONS),
        lifetime=timedelta(days=30),
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=timedelta(days=90),
    )
    spec = AppSpec(name="contoso-fleet", base_url=world.app_url("contoso-fleet"), vault=world.vault_url, slots=(slot,))
    canonical = ",".join(sorted(f"{OPERATOR}@{org}" for org in ORGANIZATIONS))
    assert len(canonical) > MAX_TAG_VALUE
    runtime = Runtime(Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path)}), [spec])
    try:
        first = run_job(runtime, "rotate")
        again = run_job(runtime, "rotate")
    finally:
        runtime.close()
    assert [(o.slot, o.status) for o in first.outcomes()] == [("plants", "done")], first.outcomes()
    [current] = world.world.vault.versions(slot.secret)
    assert current.tags["stage"] == "current"
    assert current.tags["roles"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    token = contoso.tokens[current.tags["token-id"]]
    assert {(r.role, r.organization) for r in token.roles} == {(OPERATOR, org) for org in ORGANIZATIONS}
    assert not again.failed
    assert again.outcomes() == []  # the planner compares the listed roles: nothing to do
