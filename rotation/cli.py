"""The `rotation` command line (typer): the on-call and platform engineers' entry point."""

from __future__ import annotations

import typer

from rotation import __version__

app = typer.Typer(help="Rotate, revoke and audit IoT Central API tokens kept in Azure Key Vault.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _root() -> None:
    """Rotate, revoke and audit IoT Central API tokens kept in Azure Key Vault."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
