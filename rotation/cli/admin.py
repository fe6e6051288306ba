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
from rotation.cli.output import console, guarded, plain, table
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
    token_id: Annotated[str, typer.Option()],
    force: Annotated[bool, typer.Option(help="also when it is a slot's current token")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete one token from an app at once (an incident). Refuses a current token unless --force."""
    runtime = runtime_for([app_name])
    outcome = admin.revoke_now(runtime, runtime.apps[0], token_id, force=force)
    if as_json:
        emit_document(plain(outcome))
    else:
        table(
            "revoke-now",
            ("app", "token", "status", "detail"),
            [(outcome.app, token_id, outcome.status, outcome.detail)],
        )


@guarded
def import_key(app_name: Annotated[str, typer.Option("--app")], slot: Annotated[str, typer.Option()]) -> None:
    """Import an iottly key (made in its web UI) from stdin into Key Vault, after checking it works."""
    settings = Settings.from_env()
    _, iottly_apps = load_app_specs(settings)
    value = _read_secret("iottly key")
    runtime = Runtime(settings, [], iottly_apps=iottly_apps)  # the sandbox's clock offset checks their URLs
    detail = admin.import_iottly_key(runtime, iottly_apps, app_name, slot, value)
    console.print(detail, markup=False)


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
) -> None:
    """Register this service's identity as an IoT Central service-principal user, using a one-off admin
    API token read from stdin (create it in the app's web UI, delete it afterwards)."""
    identity = _identity(object_id, tenant_id)
    runtime = runtime_for([app_name])
    token = _read_secret("admin API token")
    if api_token_slot:
        detail = admin.store_api_token(runtime, runtime.apps[0], token)
    else:
        detail = admin.bootstrap(runtime, runtime.apps[0], token, role=role, user_id=user_id, identity=identity)
    console.print(detail, markup=False)


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
