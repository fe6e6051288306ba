"""Validates emulator responses against the official OpenAPI (Swagger 2.0) definitions.

Attach `SpecConformance.observe` to an emulator's observers: every response of a route whose name is
an `operationId` of the spec is checked -- the status must be documented (or fall to `default` for
errors), the body must match the response schema (polymorphic types resolved by their discriminator),
and declared response headers (IoT Central's `x-ms-error-code`) must be present.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker
from werkzeug.wrappers import Request, Response

SPECS = Path(__file__).parent / "specs"
IOTCENTRAL_SPEC = SPECS / "iotcentral-2022-07-31.json"
KEYVAULT_SPEC = SPECS / "keyvault-secrets-7.6.json"


@dataclass(frozen=True)
class Violation:
    emulator: str
    operation: str
    status: int
    problem: str

    def __str__(self) -> str:
        return f"{self.emulator} {self.operation} -> {self.status}: {self.problem}"


def _with_discriminators(definitions: dict[str, Any]) -> dict[str, Any]:
    """Rewrite `discriminator` bases so that a body must also match the subtype its tag names."""
    defs = copy.deepcopy(definitions)
    for base_name, base in list(definitions.items()):
        tag = base.get("discriminator")
        if not tag:
            continue
        base_ref = f"#/definitions/{base_name}"
        plain = f"{base_name}__base"
        defs[plain] = {k: v for k, v in defs[base_name].items() if k != "discriminator"}
        branches = []
        for sub_name, sub in definitions.items():
            if any(part.get("$ref") == base_ref for part in sub.get("allOf", [])):
                for part in defs[sub_name]["allOf"]:
                    if part.get("$ref") == base_ref:
                        part["$ref"] = f"#/definitions/{plain}"
                value = sub.get("x-ms-discriminator-value", sub_name)
                branches.append(
                    {"properties": {tag: {"enum": [value]}}, "allOf": [{"$ref": f"#/definitions/{sub_name}"}]}
                )
        defs[base_name] = {"allOf": [{"$ref": f"#/definitions/{plain}"}], "oneOf": branches}
    return defs


class SpecConformance:
    def __init__(self, spec_path: Path) -> None:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        self.definitions = _with_discriminators(spec.get("definitions", {}))
        self.operations: dict[str, dict[str, Any]] = {}
        for path_item in spec["paths"].values():
            for method, op in path_item.items():
                if method != "parameters" and isinstance(op, dict) and "operationId" in op:
                    self.operations[op["operationId"]] = op
        self.violations: list[Violation] = []
        self.checked: dict[str, set[int]] = {}
        self._lock = threading.Lock()
        self._formats = FormatChecker()

    def problems(self, operation: str, status: int, headers: dict[str, str], body: bytes) -> list[str]:
        op = self.operations.get(operation)
        if op is None:
            return [f"{operation} is not an operation of the spec"]
        responses = op["responses"]
        declared = responses.get(str(status))
        if declared is None:
            if 200 <= status < 300:
                return [f"status {status} is not documented, expected one of {sorted(responses)}"]
            declared = responses.get("default")
            if declared is None:
                return [f"status {status} is not documented and there is no default response"]
        found: list[str] = []
        lowered = {k.lower() for k in headers}
        found.extend(
            f"missing response header {name!r}" for name in declared.get("headers", {}) if name.lower() not in lowered
        )
        schema = declared.get("schema")
        if schema is None:
            if body:
                found.append(f"expected no body, got {len(body)} bytes")
            return found
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return [*found, f"body is not JSON: {body[:80]!r}"]
        validator = Draft4Validator({**schema, "definitions": self.definitions}, format_checker=self._formats)
        found.extend(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)
        )
        return found

    def observe(self, emulator: str, route: str, request: Request, response: Response) -> None:
        if route not in self.operations:
            return
        body = b"".join(response.iter_encoded()) if not response.direct_passthrough else b""
        problems = self.problems(route, response.status_code, dict(response.headers), body)
        with self._lock:
            self.checked.setdefault(route, set()).add(response.status_code)
            self.violations.extend(Violation(emulator, route, response.status_code, p) for p in problems)

    def take_violations(self) -> list[Violation]:
        with self._lock:
            found, self.violations = self.violations, []
            return found
