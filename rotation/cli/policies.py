"""`rotation policies check|schema`: validate policy files (every problem on its own line, exit 2) and
print the JSON schema that `policies/schema.json` holds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from rotation.cli.examples import epilog
from rotation.cli.output import guarded, table
from rotation.domain.values import format_duration
from rotation.hosting.config import Settings
from rotation.policy import load_policies, schema
from rotation.policy.specs import app_specs, consumer_warnings, verify_notes

policies_app = typer.Typer(help="Check declared policies and print their schema.", no_args_is_help=True)


@policies_app.command(epilog=epilog("policies check"))
@guarded
def check(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders (default: policies/)")] = None,
) -> None:
    """Validate policy files; print every problem as `file:line field: got X, expected Y` (exit 2)."""
    chosen = paths or [Settings.from_env().policies]
    policies = load_policies(chosen, os.environ)
    apps, iottly = app_specs(policies)
    for warning in consumer_warnings(apps):
        sys.stderr.write(f"warning: {warning}\n")  # one line, never folded: people grep for it
    table(
        "IoT Central slots",
        ("app", "slot", "roles", "lifetime", "renew_at", "grace", "secret"),
        [
            (
                a.name,
                s.slot,
                ", ".join(f"{r.ref}@{r.organization}" if r.organization else r.ref for r in s.roles),
                format_duration(s.lifetime),
                f"{s.renew_at:.2f}",
                format_duration(s.grace),
                s.secret,
            )
            for a in apps
            for s in a.slots
        ],
    )
    if iottly:
        table(
            "iottly keys (verify-only)",
            ("app", "slot", "secret", "max_age"),
            [(a.name, k.slot, k.secret, format_duration(k.max_age)) for a in iottly for k in a.keys],
        )
    for note in verify_notes(policies):  # not errors: exit 0
        sys.stderr.write(note + "\n")


@policies_app.command("schema", epilog=epilog("policies schema"))
def print_schema() -> None:
    """Print the policy JSON schema (checked in as policies/schema.json)."""
    sys.stdout.write(json.dumps(schema(), indent=2, sort_keys=True) + "\n")
