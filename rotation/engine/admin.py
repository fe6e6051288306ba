"""One-off operations behind the CLI: revoke-now, iottly key import, bootstrap. Each checks before it
acts and says what it did; none prints a token value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rotation.domain.events import jwt_claims
from rotation.domain.model import AppSpec, AppState, IottlyAppSpec, RoleAssignment, SlotState
from rotation.domain.protocol import (
    CONTENT_TYPE_API_TOKEN,
    CONTENT_TYPE_IOTTLY_KEY,
    STAGE_CURRENT,
    imported_key_tags,
    revoked_tags,
    superseded_tags,
    token_tags,
)
from rotation.domain.roles import BUILTIN_ROLES, parse_role_ref
from rotation.domain.secret import Secret
from rotation.engine.actions import ActionKind
from rotation.engine.executor import Outcome
from rotation.engine.observe import observe_app
from rotation.engine.ports import Connections, IoTCentralPort, VaultPort
from rotation.errors import RotationError, UserError


def simulated_roles(spec: AppSpec) -> dict[str, str]:
    """Role ids for the simulation: custom role names get stand-in ids so they resolve."""
    roles = {role_id: alias for alias, role_id in BUILTIN_ROLES.items()}
    for slot in spec.slots:
        for ref in slot.roles:
            if ref.ref not in roles:
                roles[f"sim-{ref.ref}"] = ref.ref
    return roles


@dataclass(frozen=True)
class RevokePreview:
    """What `revoke-now` would delete (its `--dry-run`), from the same lookup as the deletion itself."""

    app: str
    token_id: str
    roles: tuple[str, ...]
    expiry: datetime | None
    current_of: tuple[str, ...]  # slots whose current token it is (only with --force)
    versions: tuple[str, ...]  # `secret/version (stage)` of every enabled vault version naming it


def _lookup(
    runtime: Connections, spec: AppSpec, token_id: str, *, force: bool
) -> tuple[IoTCentralPort, VaultPort, AppState, RevokePreview]:
    iotc = runtime.iotcentral(spec)
    vault = runtime.vault(spec.vault)
    state = observe_app(spec, iotc, vault)
    if state.tokens is None:
        raise RotationError(f"{spec.name}: cannot read the app's tokens ({'; '.join(state.errors)}); nothing revoked")
    token = state.token(token_id)
    if token is None:
        raise UserError(f"--token-id: got {token_id!r}, expected a token of app {spec.name!r}")
    slots = tuple(name for name, slot in state.slots.items() if slot.current and slot.current.token_id == token_id)
    if slots and not force:
        raise UserError(
            f"--token-id: got {token_id!r}, the current token of slot {', '.join(slots)}; expected a "
            "non-current token (rotate the slot first, or pass --force for an incident)"
        )
    versions = tuple(
        f"{slot_spec.secret}/{version.version} ({version.stage or 'no stage'})"
        for slot_spec in spec.slots
        for version in state.slots.get(slot_spec.slot, SlotState()).versions
        if version.token_id == token_id and version.enabled
    )
    roles = tuple(sorted(r.label(state.roles) for r in token.roles))
    return iotc, vault, state, RevokePreview(spec.name, token_id, roles, token.expiry, slots, versions)


def preview_revoke(runtime: Connections, spec: AppSpec, token_id: str, *, force: bool) -> RevokePreview:
    """`revoke-now --dry-run`: the same checks and lookup, nothing deleted or disabled."""
    return _lookup(runtime, spec, token_id, force=force)[3]


def revoke_now(
    runtime: Connections, spec: AppSpec, token_id: str, *, force: bool, reason: str = "operator request"
) -> Outcome:
    iotc, vault, state, preview = _lookup(runtime, spec, token_id, force=force)
    slots = preview.current_of
    iotc.delete_token(token_id)
    now = runtime.now()
    for slot_spec in spec.slots:
        for version in state.slots.get(slot_spec.slot, SlotState()).versions:
            if version.token_id == token_id and version.enabled:
                vault.update(slot_spec.secret, version.version, enabled=False, tags=revoked_tags(version.tags, now))
    note = f"deleted; slot {', '.join(slots)} has no current token until the next rotate" if slots else "deleted"
    return Outcome(spec.name, next(iter(slots), None), ActionKind.REVOKE_NOW, "done", reason, note)


def import_iottly_key(
    runtime: Connections, apps: Sequence[IottlyAppSpec], app_name: str, slot: str, value: Secret
) -> str:
    spec = next((a for a in apps if a.name == app_name), None)
    if spec is None:
        raise UserError(f"--app: got {app_name!r}, expected an iottly app: {', '.join(a.name for a in apps) or 'none'}")
    key = next((k for k in spec.keys if k.slot == slot), None)
    if key is None:
        raise UserError(f"--slot: got {slot!r}, expected one of {', '.join(k.slot for k in spec.keys)}")
    if not runtime.iottly(spec.base_url).ping(value):
        raise UserError(f"stdin: iottly refused the key (401) for {app_name}; expected a valid key: nothing imported")
    vault = runtime.vault(spec.vault)
    previous = SlotState(tuple(vault.list_versions(key.secret))).current
    now = runtime.now()
    version = vault.set_value(
        key.secret,
        value,
        tags=imported_key_tags(app=app_name, slot=slot, at=now),
        expires_on=now + key.max_age,
        content_type=CONTENT_TYPE_IOTTLY_KEY,
    )
    if previous is not None:
        vault.update(key.secret, previous.version, tags=superseded_tags(previous.tags, now))
    return (
        f"imported into {key.secret} (version {version.version[:8]}); now delete the old key in the iottly "
        "web UI: project dashboard → OPEN → Manage API keys"
    )


def identity_claims(token: str) -> tuple[str, str]:
    """(object id, tenant id) of this service's identity, read from its own access token's claims."""
    try:
        claims = jwt_claims(token)
        return str(claims["oid"]), str(claims["tid"])
    except (KeyError, ValueError):
        raise RotationError("the identity's access token has no oid/tid claims; expected an Azure AD token") from None


def bootstrap(
    runtime: Connections,
    spec: AppSpec,
    admin_token: Secret,
    *,
    role: str,
    user_id: str,
    identity: tuple[str, str] | None = None,
) -> str:
    """`identity` (object id, tenant id) names the service's identity when this runs elsewhere (a workstation,
    whose own credential is a person's); by default it is read from this process's own token."""
    object_id, tenant_id = identity or identity_claims(runtime.identity_token())
    ref = parse_role_ref(role, "--role")
    admin = runtime.admin_iotcentral(spec.base_url, admin_token)
    role_id = ref.role_id or next(
        (rid for rid, name in admin.list_roles().items() if name.casefold() == ref.value.casefold()), None
    )
    if role_id is None:
        raise UserError(f"--role: got {role!r}, expected a role of app {spec.name}")
    existing = admin.get_user(user_id)
    if existing and existing.get("objectId") == object_id and existing.get("tenantId") == tenant_id:
        return f"{spec.name}: identity {object_id} is already user {user_id!r}; nothing to do"
    admin.put_service_principal(
        user_id, object_id=object_id, tenant_id=tenant_id, roles=frozenset({RoleAssignment(role_id)})
    )
    done = f"{spec.name}: registered identity {object_id} as user {user_id!r} with role {ref.label()}"
    if identity is not None:  # another identity than this process's: it cannot be checked from here
        return f"{done}; delete the one-off admin token in the web UI now"
    check = runtime.iotcentral(spec).list_roles()  # the identity itself can now call the app
    return f"{done} ({len(check)} roles visible); delete the one-off admin token in the web UI now"


def token_id_of(value: Secret) -> str:
    """The id (`skn`) inside an IoT Central API token value, without exposing anything else."""
    fields = dict(part.partition("=")[::2] for part in value.reveal().removeprefix("SharedAccessSignature ").split("&"))
    token_id = fields.get("skn", "")
    if not token_id:
        raise UserError(
            "stdin: got something that is not an IoT Central API token, expected "
            "'SharedAccessSignature sr=...&sig=...&skn=...&se=...'"
        )
    return token_id


def store_api_token(runtime: Connections, spec: AppSpec, admin_token: Secret) -> str:
    """For apps without a managed identity: keep the admin token as the current version of the app's
    `api_token_slot`, from where the service uses it and rotates it like any other slot."""
    if spec.api_token_slot is None:
        raise UserError(f"--api-token-slot: app {spec.name} declares no api_token_slot in its policy")
    slot = next(s for s in spec.slots if s.slot == spec.api_token_slot)
    token_id = token_id_of(admin_token)
    admin = runtime.admin_iotcentral(spec.base_url, admin_token)
    token = next((t for t in admin.list_tokens() if t.id == token_id), None)
    if token is None:
        raise UserError(f"stdin: token {token_id!r} is not listed by app {spec.name}; expected an admin API token")
    vault = runtime.vault(spec.vault)
    tags = token_tags(app=spec.name, slot=slot.slot, token_id=token.id, roles=token.roles, stage=STAGE_CURRENT)
    version = vault.set_value(
        slot.secret, admin_token, tags=tags, expires_on=token.expiry, content_type=CONTENT_TYPE_API_TOKEN
    )
    return (
        f"{spec.name}: stored admin token {token.id} as the current version of {slot.secret} "
        f"({version.version[:8]}); the service now authenticates with it and rotates it"
    )
