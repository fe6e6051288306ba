"""A synthetic fleet as the pure audit and the planner see it (no network): N apps of T tokens each, two
managed slots per app (each with a current and a previous version), the other tokens unmanaged and
allowlisted, one verification check per slot.

The shape is what a real rotated fleet looks like to `evaluate` and `plan_rotation`, so timing them on
10,000 and 100,000 tokens shows how they scale with the fleet (the bench reports the ratio).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from rotation.domain.model import (
    AllowedToken,
    AppSpec,
    AppState,
    AppToken,
    RoleAssignment,
    SecretVersion,
    SlotRole,
    SlotSpec,
    SlotState,
    VerifyCheck,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
ROLES = {OPERATOR: "Operator", ADMINISTRATOR: "Administrator"}
SLOTS = ("s0", "s1")
DAY = timedelta(days=1)


def slot_spec(app: str, slot: str) -> SlotSpec:
    return SlotSpec(
        app=app,
        slot=slot,
        secret=f"iotc-{app}-{slot}",
        roles=(SlotRole(OPERATOR),),
        lifetime=30 * DAY,
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=90 * DAY,
    )


def _version(
    secret: str, number: int, token_id: str, created: datetime, stage: str, *, superseded: datetime | None = None
) -> SecretVersion:
    tags = {"managed-by": "rotation", "provider": "iotcentral", "token-id": token_id, "stage": stage}
    if superseded is not None:
        tags["superseded-at"] = superseded.isoformat()
    return SecretVersion(secret, f"v{number}", created, expires_on=created + 30 * DAY, tags=tags)


def _app(index: int, tokens: int) -> tuple[AppSpec, AppState, list[VerifyCheck]]:
    name = f"app-{index:06d}"
    specs = tuple(slot_spec(name, slot) for slot in SLOTS)
    listed: list[AppToken] = []
    slots: dict[str, SlotState] = {}
    role = frozenset({RoleAssignment(OPERATOR)})
    for spec in specs:
        old_created, new_created = NOW - 12 * DAY, NOW - (2 + index % 5) * DAY
        old = f"rot-{spec.slot}-{old_created:%Y%m%d%H%M%S}-{index % 10000:04d}"
        new = f"rot-{spec.slot}-{new_created:%Y%m%d%H%M%S}-{index % 10000:04d}"
        listed += [AppToken(old, role, old_created + 30 * DAY), AppToken(new, role, new_created + 30 * DAY)]
        slots[spec.slot] = SlotState(
            (
                _version(spec.secret, 1, old, old_created, "previous", superseded=new_created),
                _version(spec.secret, 2, new, new_created, "current"),
            ),
            (_version(spec.pending_secret, 1, new, new_created, "promoted"),),
        )
    unmanaged = [f"human-{index}-{i}" for i in range(max(0, tokens - len(listed)))]
    listed += [AppToken(t, role, NOW + 60 * DAY) for t in unmanaged]
    allow = tuple(AllowedToken(t, date(2027, 1, 1), "legacy integration") for t in unmanaged[::2])
    app = AppSpec(
        name=name,
        base_url=f"https://{name}.azureiotcentral.com",
        vault="https://kv.vault.azure.net",
        slots=specs,
        allow_unmanaged=allow,
        forbid_roles=(ADMINISTRATOR,),
    )
    state = AppState(name, tuple(listed[:tokens]), ROLES, slots)
    checks = [
        VerifyCheck(name, s.slot, current.token_id, ok=True)
        for s in specs
        if (current := slots[s.slot].current) is not None
    ]
    return app, state, checks


def synthetic_fleet(
    total_tokens: int, per_app: int = 50
) -> tuple[list[AppSpec], dict[str, AppState], list[VerifyCheck]]:
    """`total_tokens` listed tokens spread over apps of `per_app` tokens (the last app may be smaller)."""
    specs: list[AppSpec] = []
    states: dict[str, AppState] = {}
    checks: list[VerifyCheck] = []
    for index in range(-(-total_tokens // per_app)):
        spec, state, app_checks = _app(index, min(per_app, total_tokens - index * per_app))
        specs.append(spec)
        states[spec.name] = state
        checks += app_checks
    return specs, states, checks
