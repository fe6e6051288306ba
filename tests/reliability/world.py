"""The fault-matrix world: one IoT Central app whose rotate and revoke make every kind of call once.

App `alpha` (built-in operator role everywhere, so only the listing decides the roles):
- slot `due`: its current token is 25 days into a 30-day life: rotate mints, stages, verifies, promotes
  (in the world of the revoke cases it is 5 days old: their convergence then has no rotation to do, which
  saves a run per case and changes no call of the revoke job);
- slot `fresh`: a current token 3 days old and a previous one superseded 3 days ago (grace 24 h): revoke
  deletes the previous token and disables its version;
- slot `steady`: a current token 2 hours old, its previous one superseded then, so still in grace: nothing
  to do now (a revoke must keep the previous token), revoke deletes it once the clocks jumped;
- an orphan managed token (10 days old, no version references it): revoke deletes it;
- `ops-admin`, made by a person: never touched.

The emulators share one clock; the IoT Central emulator's own rate limit is off so that the order of
requests is the same in every run (the client's limiter still runs, below its threshold here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from emulators.core import SandboxCA
from emulators.sandbox import SandboxWorld
from emulators.sandbox.seed import ADMINISTRATOR, OPERATOR, managed_id, roles_tag

APP = "alpha"
SLOTS = ("due", "fresh", "steady")
GRACE = timedelta(hours=24)
ORPHAN_WINDOW = timedelta(hours=1)
SAFETY = max(GRACE, ORPHAN_WINDOW)
"""A managed token younger than this may legitimately be referenced by nothing yet (invariant a)."""
DAY = timedelta(days=1)
HTTP_TIMEOUT = 0.5  # seconds: ROTATION_HTTP_TIMEOUT (the clients' read timeout) of a faulted run

POLICY = """\
version: 1
defaults:
  lifetime: P30D
  renew_at: 0.67
  grace: PT24H
  jitter: 0
  orphan_safety_window: PT1H
apps:
  - name: {app}
    provider: iotcentral
    subdomain: {app}
    base_url: {base_url}
    vault: {vault}
    tokens:
      - {{slot: due, roles: [{{role: operator}}]}}
      - {{slot: fresh, roles: [{{role: operator}}]}}
      - {{slot: steady, roles: [{{role: operator}}]}}
"""


def secret_name(slot: str) -> str:
    return f"iotc-{APP}-{slot}"


@dataclass
class FaultWorld:
    """A served, seeded world and what a CLI run needs to reach it."""

    sandbox: SandboxWorld
    ca: SandboxCA
    directory: Path
    identity_endpoint: str
    iotcentral_base: str
    vault_url: str
    policies: Path

    @property
    def app_url(self) -> str:
        return f"{self.iotcentral_base}/apps/{APP}"

    def env(self, offset: timedelta = timedelta(0), http_timeout: float | None = None) -> dict[str, str]:
        """The service's environment for one run; `offset` is the service clock's jump (ROTATION_CLOCK_OFFSET),
        `http_timeout` the clients' read timeout (ROTATION_HTTP_TIMEOUT; unset: the service's default)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATION_", "AZURE_", "IDENTITY_"))}
        env.update(
            {
                "IDENTITY_ENDPOINT": self.identity_endpoint,
                "IDENTITY_HEADER": self.sandbox.identity.header_secret,
                "ROTATION_CA_BUNDLE": str(self.ca.pem_path),
                "ROTATION_POLICIES": str(self.policies),
                "ROTATION_REPORTS_DIR": str(self.directory / "reports"),
                "ROTATION_STATE_DIR": str(self.directory / "state"),  # local locks (a setting being added)
                "ROTATION_MAX_CONCURRENCY": "1",
                "ROTATION_RATE_LIMIT": "19",
                "NO_COLOR": "1",
                "COLUMNS": "200",
            }
        )
        if http_timeout is not None:
            env["ROTATION_HTTP_TIMEOUT"] = str(http_timeout)
        if offset:
            env["ROTATION_CLOCK_OFFSET"] = f"PT{int(offset.total_seconds())}S"
        return env


def _store(
    sandbox: SandboxWorld,
    slot: str,
    value: str,
    token_id: str,
    *,
    created: datetime,
    stage: str,
    superseded_at: datetime | None = None,
) -> None:
    tags = {
        "managed-by": "rotation",
        "provider": "iotcentral",
        "app": APP,
        "slot": slot,
        "token-id": token_id,
        "roles": roles_tag([{"role": OPERATOR}]),
        "stage": stage,
    }
    if superseded_at is not None:
        tags["superseded-at"] = superseded_at.isoformat(timespec="seconds")
    sandbox.vault.seed_secret(
        secret_name(slot),
        value,
        tags=tags,
        expires_on=created + 30 * DAY,
        created_on=created,
        content_type="application/vnd.iotcentral.apitoken",
    )


def seed(sandbox: SandboxWorld, *, due: bool = True) -> None:
    now = sandbox.clock.now()
    app = sandbox.iotcentral.add_app(APP)
    app.add_service_principal(
        "rotation-service",
        object_id=sandbox.service.object_id,
        tenant_id=sandbox.service.tenant_id,
        roles=[{"role": ADMINISTRATOR}],
    )
    app.add_device("sensor-1")

    def token(slot: str, age: timedelta, suffix: str) -> tuple[str, str, datetime]:
        created = now - age
        token_id = managed_id(slot, created, suffix)
        return (
            token_id,
            app.create_token(token_id, [{"role": OPERATOR}], expiry=created + 30 * DAY, created=created),
            created,
        )

    due_id, due_value, due_created = token("due", (25 if due else 5) * DAY, "d001")
    _store(sandbox, "due", due_value, due_id, created=due_created, stage="current")
    old_id, old_value, old_created = token("fresh", 28 * DAY, "f001")
    new_id, new_value, new_created = token("fresh", 3 * DAY, "f002")
    _store(sandbox, "fresh", old_value, old_id, created=old_created, stage="previous", superseded_at=new_created)
    _store(sandbox, "fresh", new_value, new_id, created=new_created, stage="current")
    kept_id, kept_value, kept_created = token("steady", 20 * DAY, "s001")
    steady_id, steady_value, steady_created = token("steady", timedelta(hours=2), "s002")
    _store(sandbox, "steady", kept_value, kept_id, created=kept_created, stage="previous", superseded_at=steady_created)
    _store(sandbox, "steady", steady_value, steady_id, created=steady_created, stage="current")
    token("fresh", 10 * DAY, "zz99")  # the orphan: a crashed run's leftover
    app.create_token("ops-admin", [{"role": ADMINISTRATOR}], expiry=now + 300 * DAY)


@contextmanager
def fault_world(directory: Path, ca: SandboxCA, *, due: bool = True) -> Iterator[FaultWorld]:
    """Serve and seed a fresh world (its own emulators and clock; the CA may be shared between worlds);
    `due=False`: the slot `due` is not due yet."""
    sandbox = SandboxWorld()
    sandbox.iotcentral.rate_limit = None
    sandbox.iotcentral.propagation_delay = timedelta(0)  # the matrix runs the CLI with real sleeps: no wait
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        identity = stack.enter_context(sandbox.identity.serve())
        base = stack.enter_context(sandbox.iotcentral.serve(ca))
        vault = stack.enter_context(sandbox.vault.serve(ca))
        seed(sandbox, due=due)
        policies = directory / "policies.yaml"
        policies.write_text(POLICY.format(app=APP, base_url=f"{base}/apps/{APP}", vault=vault), encoding="utf-8")
        yield FaultWorld(sandbox, ca, directory, identity, base, vault, policies)
