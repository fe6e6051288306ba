"""emulators/README.md lists exactly the spec operations the emulators do not implement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulators.conformance import IOTCENTRAL_SPEC, KEYVAULT_SPEC, SpecConformance
from emulators.core import EmulatorApp, SandboxAuthority
from emulators.iotcentral import IoTCentralEmulator
from emulators.keyvault import KeyVaultEmulator

README = Path(__file__).parents[2] / "emulators" / "README.md"


def _listed(key: str) -> set[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(rf"<!-- not-implemented:{key}:start -->(.*?)<!-- not-implemented:{key}:end -->", text, re.DOTALL)
    assert block, f"README has no not-implemented block for {key}"
    return set(re.findall(r"`([A-Za-z0-9_]+)`", block.group(1)))


@pytest.mark.parametrize(
    ("key", "spec", "emulator"),
    [
        ("iotcentral", IOTCENTRAL_SPEC, IoTCentralEmulator(SandboxAuthority())),
        ("keyvault", KEYVAULT_SPEC, KeyVaultEmulator(SandboxAuthority())),
    ],
)
def test_readme_lists_the_unimplemented_operations(key: str, spec: Path, emulator: EmulatorApp) -> None:
    operations = set(SpecConformance(spec).operations)
    implemented = {route.name for route in emulator.routes()}
    assert implemented <= operations, "every route name must be an operationId of the spec"
    assert _listed(key) == operations - implemented
