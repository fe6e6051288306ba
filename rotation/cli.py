"""The `rotation` command line (typer): the on-call and platform engineers' entry point."""

from __future__ import annotations

import typer

from rotation import __version__, cli_audit, cli_engine, cli_serve
from rotation.cli_policies import policies_app

app = typer.Typer(help="Rotate, revoke and audit IoT Central API tokens kept in Azure Key Vault.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(policies_app, name="policies")
app.add_typer(cli_audit.report_app, name="report")
cli_engine.register(app)
app.command("audit")(cli_audit.audit)
app.command("serve")(cli_serve.serve)


@app.callback()
def _root() -> None:
    """Rotate, revoke and audit IoT Central API tokens kept in Azure Key Vault."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
