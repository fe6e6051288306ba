"""From declared policies to the AppSpecs the planner, executor and audit work on: defaults merged,
secret names and URLs resolved, role references kept as GUIDs (aliases) or names (custom roles)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from rotation.domain.consumers import grace_warning
from rotation.domain.model import AllowedToken, AppSpec, IottlyAppSpec, IottlyKeySpec, SlotRole, SlotSpec
from rotation.domain.roles import ALIAS_BY_ID, parse_role_ref
from rotation.errors import UserError
from rotation.policy import PolicySet, load_policies
from rotation.policy.models import Defaults, IoTCentralApp, IottlyApp


def _iotcentral(app: IoTCentralApp, defaults: Defaults) -> AppSpec:
    base_url = app.base_url or f"https://{app.subdomain}.{app.base_domain}"
    slots = tuple(
        SlotSpec(
            app=app.name,
            slot=slot.slot,
            secret=slot.secret or f"iotc-{app.name}-{slot.slot}",
            roles=tuple(SlotRole(parse_role_ref(r.role).ref, r.organization) for r in slot.roles),
            lifetime=slot.lifetime or defaults.lifetime,
            renew_at=slot.renew_at or defaults.renew_at,
            grace=slot.grace or defaults.grace,
            max_lifetime=defaults.max_lifetime,
            jitter=defaults.jitter,
            verify_method=slot.verify.method if slot.verify else "GET",
            verify_path=slot.verify.path if slot.verify else None,
            verify_budget=slot.verify.budget if slot.verify else None,
            consumers=tuple((c.name, c.refresh) for c in slot.consumers),
        )
        for slot in app.tokens
    )
    return AppSpec(
        name=app.name,
        base_url=base_url,
        vault=app.vault,
        slots=slots,
        allow_unmanaged=tuple(AllowedToken(a.id, a.until, a.justification) for a in app.allow_unmanaged),
        remove_unmanaged=app.remove_unmanaged,
        orphan_safety_window=defaults.orphan_safety_window,
        forbid_roles=tuple(parse_role_ref(r).ref for r in defaults.forbid_roles),
        api_token_slot=app.api_token_slot,
    )


def _iottly(app: IottlyApp) -> IottlyAppSpec:
    return IottlyAppSpec(
        name=app.name,
        base_url=app.base_url,
        vault=app.vault,
        keys=tuple(IottlyKeySpec(app.name, k.slot, k.secret, k.max_age) for k in app.keys),
    )


def app_specs(policies: PolicySet) -> tuple[list[AppSpec], list[IottlyAppSpec]]:
    """Specs carry the file:line that declares them (`declared_at`), so reports can point at the policy."""
    iotcentral: list[AppSpec] = []
    iottly: list[IottlyAppSpec] = []
    for loaded in policies.files:
        path = str(loaded.path)
        for a, app in enumerate(loaded.policy.apps):
            at = (path, loaded.line(["apps", a]))
            if isinstance(app, IoTCentralApp):
                spec = _iotcentral(app, loaded.policy.defaults)
                slots = tuple(
                    replace(s, declared_at=(path, loaded.line(["apps", a, "tokens", t])))
                    for t, s in enumerate(spec.slots)
                )
                iotcentral.append(replace(spec, slots=slots, declared_at=at))
            else:
                key_spec = _iottly(app)
                keys = tuple(
                    replace(k, declared_at=(path, loaded.line(["apps", a, "keys", k_index])))
                    for k_index, k in enumerate(key_spec.keys)
                )
                iottly.append(replace(key_spec, keys=keys, declared_at=at))
    return iotcentral, iottly


def consumer_warnings(apps: Sequence[AppSpec]) -> list[str]:
    """One line per declared consumer that re-reads a slot's secret less often than the grace allows: the
    policy stays valid (a warning, exit 0), but a rotation may leave that consumer with a revoked token."""
    lines = []
    for app in apps:
        for slot in app.slots:
            where = f"{slot.declared_at[0]}:{slot.declared_at[1]} " if slot.declared_at else ""
            for name, refresh in slot.consumers:
                line = grace_warning(
                    f"{where}{app.name}/{slot.slot} grace", slot.grace, refresh, consumer=f"consumer {name}"
                )
                if line:
                    lines.append(line)
    return lines


def _custom(role: str) -> bool:
    ref = parse_role_ref(role)
    return ref.kind == "name" or (ref.kind == "id" and ref.value not in ALIAS_BY_ID)


def verify_notes(policies: PolicySet) -> list[str]:
    """One note per slot that uses the default verify call (GET /api/devices, which needs device read)
    with custom roles only. Every built-in role reads devices (Microsoft's howto-manage-users-roles: the
    App and Org roles all view devices; Org Viewer is read-only), so no built-in role is refused; a custom
    role's permissions cannot be known offline, hence a note, not an error."""
    notes: list[str] = []
    for loaded in policies.files:
        for a, app in enumerate(loaded.policy.apps):
            if not isinstance(app, IoTCentralApp):
                continue
            for t, slot in enumerate(app.tokens):
                if (slot.verify and slot.verify.path) or not all(_custom(r.role) for r in slot.roles):
                    continue
                where = f"{loaded.path}:{loaded.line(['apps', a, 'tokens', t])} apps[{a}].tokens[{t}].verify"
                notes.append(
                    f"note: {where}: the default GET /api/devices needs device read; custom role "
                    f"{', '.join(r.role for r in slot.roles)} cannot be checked offline "
                    "(organization-level custom roles are not listed by GET /api/roles; GUIDs are accepted as written)"
                )
    return notes


class PolicySource(Protocol):
    """What loading needs from the settings: policy sits below hosting and must not import its config."""

    @property
    def policies(self) -> Path: ...


def load_app_specs(
    settings: PolicySource, env: Mapping[str, str] | None = None
) -> tuple[list[AppSpec], list[IottlyAppSpec]]:
    return app_specs(load_policies([settings.policies], os.environ if env is None else env))


def select_apps(specs: Sequence[AppSpec], names: Sequence[str] | None) -> list[AppSpec]:
    if not names:
        return list(specs)
    known = {s.name: s for s in specs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"--app: got {', '.join(map(repr, unknown))}, expected one of: {', '.join(known) or 'none'}")
    return [known[n] for n in names]
