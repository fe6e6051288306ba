"""The `--json` documents: one JSON Schema per command in `rotation/cli/schemas/` (docs/cli.md lists them),
and a top-level `schema_version` in every document, so that a script can refuse a shape it does not know
instead of misreading it. Bump SCHEMA_VERSION (and the schemas' `const`) on any incompatible change.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from rotation.cli.output import emit_json, plain

SCHEMA_VERSION = 1

# command -> schema file (rotate and revoke print the same document)
SCHEMAS: dict[str, str] = {
    "plan": "plan.json",
    "rotate": "job.json",
    "revoke": "job.json",
    "run": "run.json",
    "simulate": "simulate.json",
    "revoke-now": "revoke-now.json",
    "audit": "audit.json",
    "report diff": "report-diff.json",
}


def emit_document(body: dict[str, Any]) -> None:
    """Print one command's --json document: `schema_version` first, then the command's fields."""
    emit_json({"schema_version": SCHEMA_VERSION, **body})


def planned(action: object) -> dict[str, Any]:
    """A planned action with its kind: without `action` a Blocked item would look like a Mint (same fields).
    The kind is the class name, the same string as an outcome's `action`."""
    fields: dict[str, Any] = plain(action)
    return {"action": type(action).__name__, **fields}


@cache
def schema(command: str) -> dict[str, Any]:
    """The JSON Schema of `command`'s --json output (package data, so an installed CLI has them too)."""
    text = resources.files("rotation.cli").joinpath("schemas", SCHEMAS[command]).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
