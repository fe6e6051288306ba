"""The `rotation` command line (typer): the on-call and platform engineers' entry point."""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Annotated

import typer

from rotation import __version__
from rotation.cli import admin as cli_admin
from rotation.cli import audit as cli_audit
from rotation.cli import doctor as cli_doctor
from rotation.cli import engine as cli_engine
from rotation.cli import serve as cli_serve
from rotation.cli.examples import epilog
from rotation.cli.output import guarded, internal_error, start_logging
from rotation.cli.policies import policies_app

# -h as well as --help everywhere (sub-contexts inherit help_option_names); --install-completion and
# --show-completion on the root (typer's completion for bash, zsh, fish, PowerShell; see docs/cli.md)
app = typer.Typer(
    help="Rotate, revoke and audit IoT Central API tokens kept in Azure Key Vault.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(policies_app, name="policies")
app.add_typer(cli_audit.report_app, name="report")
cli_engine.register(app)
cli_admin.register(app)
app.command("audit", epilog=epilog("audit"))(cli_audit.audit)
app.command("serve", epilog=epilog("serve"))(cli_serve.serve)
app.command("doctor", epilog=epilog("doctor"))(cli_doctor.doctor)


def installed_version() -> str:
    """The installed distribution's version (what pip and pipx report); the source tree's when not installed."""
    try:
        return metadata.version("iotc-token-rotation")
    except metadata.PackageNotFoundError:
        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(installed_version())
        raise typer.Exit(0)


@app.callback()
@guarded
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="tracebacks, and every library's log lines (redacted JSON) on stderr; "
            "same as ROTATION_LOG_LEVEL=DEBUG",
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", help="print the version and exit", is_eager=True, callback=_print_version)
    ] = False,
) -> None:
    """Rotate, revoke and audit IoT Central API tokens kept in Azure Key Vault."""
    start_logging(debug)


@app.command(epilog=epilog("version"))
def version() -> None:
    """Print the version."""
    typer.echo(installed_version())


def main() -> None:
    """The last-resort handler around everything typer runs (the commands have their own, `guarded`)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 -- one line and exit 4 instead of a traceback
        sys.exit(internal_error(exc))
