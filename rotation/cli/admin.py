"""The admin commands: revoke-now, import, bootstrap (one-off acts by a person, not the timers' jobs).

Each loads settings and policies, builds the runtime, calls `rotation.engine.admin`, and prints the outcome.
Token values only ever come in on stdin (never argv) and never go out.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from rotation.cli.engine import JsonOpt, runtime_for
from rotation.cli.examples import epilog
from rotation.cli.jsonout import emit_document
from rotation.cli.manual import ReasonOpt, confirm_revoke, recorded, unrecorded
from rotation.cli.output import console, guarded, plain, table
from rotation.domain.events import check_reason
from rotation.domain.ids import is_guid
from rotation.domain.secret import Secret
from rotation.engine import admin
from rotation.errors import UserError
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs


@guarded
def revoke_now(
    app_name: Annotated[str, typer.Option("--app")],
    *,
    token_id: Annotated[str, typer.Option()],
    reason: ReasonOpt = None,
    force: Annotated[bool, typer.Option(help="also when it is a slot's current token")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="do not ask for confirmation (required without a terminal)")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be revoked; change nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete one token from an app at once (an incident). Refuses a current token unless --force; asks
    for confirmation on a terminal unless --yes; --reason is required (it goes into the audit trail)."""
    if dry_run:
        runtime = runtime_for([app_name])
        _show_preview(admin.preview_revoke(runtime, runtime.apps[0], token_id, force=force), as_json)
        return
    why = check_reason(reason, required=True)
    confirm_revoke(app_name, token_id, yes=yes)
    runtime = runtime_for([app_name])
    outcome, errors = recorded(
        runtime,
        "revoke-now",
        app_name,
        lambda: admin.revoke_now(runtime, runtime.apps[0], token_id, force=force, reason=why),
        reason=why,
        token_id=token_id,
        describe=lambda o: ("done", o.detail, token_id),
    )
    if as_json:
        emit_document(plain(outcome))
    else:
        table(
            "revoke-now",
            ("app", "token", "status", "detail"),
            [(outcome.app, token_id, outcome.status, outcome.detail)],
        )
    unrecorded("revoke-now", errors)


def _show_preview(preview: admin.RevokePreview, as_json: bool) -> None:
    current = ", ".join(preview.current_of) or "-"
    versions = ", ".join(preview.versions) or "none"
    detail = f"would delete {preview.token_id}; current of: {current}; vault versions to disable: {versions}"
    if as_json:
        emit_document(
            {
                "action": "RevokeNow",
                "app": preview.app,
                "slot": next(iter(preview.current_of), None),
                "status": "dry-run",
                "reason": "dry run: nothing changed",
                "detail": detail,
                "preview": plain(preview),
            }
        )
        return
    table(
        "revoke-now --dry-run (nothing changed)",
        ("app", "token", "roles", "expiry", "current of", "vault versions"),
        [
            (
                preview.app,
                preview.token_id,
                ", ".join(preview.roles) or "none",
                preview.expiry.isoformat() if preview.expiry else "none",
                current,
                versions,
            )
        ],
    )


@guarded
def import_key(
    app_name: Annotated[str, typer.Option("--app")], slot: Annotated[str, typer.Option()], reason: ReasonOpt = None
) -> None:
    """Import an iottly key (made in its web UI) from stdin into Key Vault, after checking it works."""
    why = check_reason(reason, required=False)
    settings = Settings.from_env()
    _, iottly_apps = load_app_specs(settings)
    value = _read_secret("iottly key")
    runtime = Runtime(settings, [], iottly_apps=iottly_apps)  # the sandbox's clock offset checks their URLs
    detail, errors = recorded(
        runtime,
        "import",
        app_name,
        lambda: admin.import_iottly_key(runtime, iottly_apps, app_name, slot, value),
        reason=why,
        slot=slot,
    )
    console.print(detail, markup=False)
    unrecorded("import", errors)


@guarded
def bootstrap(
    app_name: Annotated[str, typer.Option("--app", help="the app to register the identity in")],
    *,
    role: Annotated[str, typer.Option(help="role for the identity")] = "administrator",
    user_id: Annotated[str, typer.Option(help="IoT Central user id to create")] = "rotation-service",
    api_token_slot: Annotated[
        bool,
        typer.Option(
            "--api-token-slot",
            help="no managed identity: store the admin token in the app's api_token_slot and let the service rotate it",
        ),
    ] = False,
    object_id: Annotated[
        str | None,
        typer.Option(
            "--object-id",
            help="the service identity's object (principal) id, when bootstrapping from "
            "elsewhere (e.g. the Bicep output identityPrincipalId)",
        ),
    ] = None,
    tenant_id: Annotated[
        str | None, typer.Option("--tenant-id", help="with --object-id: the identity's tenant id")
    ] = None,
    reason: ReasonOpt = None,
) -> None:
    """Register this service's identity as an IoT Central service-principal user, using a one-off admin
    API token read from stdin (create it in the app's web UI, delete it afterwards)."""
    why = check_reason(reason, required=False)
    identity = _identity(object_id, tenant_id)
    runtime = runtime_for([app_name])
    token = _read_secret("admin API token")
    spec = runtime.apps[0]

    def act() -> str:
        if api_token_slot:
            return admin.store_api_token(runtime, spec, token)
        return admin.bootstrap(runtime, spec, token, role=role, user_id=user_id, identity=identity)

    slot = spec.api_token_slot if api_token_slot else None
    detail, errors = recorded(
        runtime, "bootstrap", app_name, act, reason=why, slot=slot, via=lambda: f"api-token:{admin.token_id_of(token)}"
    )
    console.print(detail, markup=False)
    unrecorded("bootstrap", errors)


COMMANDS: dict[str, Callable[..., None]] = {
    "revoke-now": revoke_now,
    "import": import_key,
    "bootstrap": bootstrap,
}


def register(app: typer.Typer) -> None:
    for name, command in COMMANDS.items():
        app.command(name, epilog=epilog(name))(command)


def _identity(object_id: str | None, tenant_id: str | None) -> tuple[str, str] | None:
    if object_id is None and tenant_id is None:
        return None
    for flag, value in (("--object-id", object_id), ("--tenant-id", tenant_id)):
        if value is None or not is_guid(value):
            raise UserError(f"{flag}: got {value!r}, expected a GUID (--object-id and --tenant-id go together)")
    return str(object_id).lower(), str(tenant_id).lower()


def _read_secret(what: str) -> Secret:
    """From stdin only (never argv, where `ps` and shell history would see it)."""
    if sys.stdin.isatty():
        import getpass  # noqa: PLC0415 -- only for interactive use

        raw = getpass.getpass(f"{what} (input hidden): ")
    else:
        raw = sys.stdin.readline()
    raw = raw.strip()
    if not raw:
        raise UserError(f"stdin: got nothing, expected the {what} on standard input")
    return Secret(raw)
