"""infra/*.bicep parsed with pycep (the parser checkov uses) into plain JSON, plus the few look-ups the
wiring tests need. There is no Bicep CLI here: this is how the templates' structure is checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@dataclass(frozen=True)
class Resource:
    file: str
    symbol: str
    type: str
    config: dict[str, Any]

    @property
    def properties(self) -> dict[str, Any]:
        value = self.config.get("properties") or {}
        assert isinstance(value, dict)
        return value


@cache
def templates() -> dict[str, dict[str, Any]]:
    """Every .bicep file under infra/, keyed by its path relative to infra/ ('main.bicep', 'modules/x.bicep')."""
    parsed: dict[str, dict[str, Any]] = {}
    for path in sorted(INFRA.rglob("*.bicep")):
        tree = BicepParser().parse(text=path.read_text(encoding="utf-8"))
        # round-trip through JSON: plain dicts, lists and scalars only
        parsed[path.relative_to(INFRA).as_posix()] = json.loads(json.dumps(tree, default=str))
    return parsed


def resources(type_: str | None = None) -> list[Resource]:
    found = []
    for file, tree in templates().items():
        for symbol, body in (tree.get("resources") or {}).items():
            config = body["config"]
            if "condition" in config and "config" in config:  # `= if (...) {...}`: the body is one level down
                config = config["config"]
            if type_ is None or body["type"].lower() == type_.lower():
                found.append(Resource(file, symbol, body["type"], config))
    return found


def one(type_: str) -> Resource:
    found = resources(type_)
    assert len(found) == 1, f"expected exactly one {type_}, got {[r.symbol for r in found]}"
    return found[0]


def symbol_types(file: str) -> dict[str, str]:
    """Resource symbol -> resource type, in one file (what a `scope: symbol` points at)."""
    return {symbol: body["type"] for symbol, body in (templates()[file].get("resources") or {}).items()}


def variable(file: str, name: str) -> Any:
    return templates()[file]["variables"][name]["value"]


def parameter_default(file: str, name: str) -> Any:
    return templates()[file]["parameters"][name].get("default")


def accessor(value: Any) -> list[str]:
    """`a.b.c` as pycep nests it (property_accessor operands), flattened to ['a', 'b', 'c']; [] otherwise."""
    if isinstance(value, str):
        return [value]
    operator = value.get("operator") if isinstance(value, dict) else None
    if not operator or operator.get("type") != "property_accessor":
        return []
    operands = operator["operands"]
    return accessor(operands["operand_1"]) + accessor(operands["operand_2"])


def module(name: str) -> dict[str, Any]:
    body = templates()["main.bicep"]["modules"][name]
    assert isinstance(body, dict)
    return body


def app_settings() -> dict[str, Any]:
    """The Function app's settings, name -> value (as parsed: a literal, or the expression's tree)."""
    site = one("Microsoft.Web/sites")
    return {entry["name"]: entry["value"] for entry in site.properties["siteConfig"]["appSettings"]}
