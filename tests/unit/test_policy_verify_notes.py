"""The default verify call (GET /api/devices) needs device read: every built-in role has it (Microsoft's
howto-manage-users-roles), so nothing is refused; a slot with custom roles only gets a one-line note."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotation.policy import load_policies
from rotation.policy.specs import verify_notes
from tests.unit.test_policyfile_reading import GOOD


def _notes(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return verify_notes(load_policies([path], {}))


@pytest.mark.parametrize(
    "role", ["operator", "org_viewer", "org_admin", "builder", "84cc62c1-dabe-49d3-b16e-8b291232b285"]
)
def test_a_built_in_role_with_the_default_verify_call_gets_no_note(tmp_path: Path, role: str) -> None:
    assert _notes(tmp_path, GOOD.replace("{role: operator}", f"{{role: {role}}}")) == []


@pytest.mark.parametrize("role", ["Fleet Reader", "0f0e0d0c-0b0a-4909-8807-060504030201"])
def test_custom_roles_only_with_the_default_verify_call_get_one_note(tmp_path: Path, role: str) -> None:
    [note] = _notes(tmp_path, GOOD.replace("{role: operator}", f"{{role: '{role}'}}"))
    assert note.startswith(f"note: {tmp_path / 'p.yaml'}:8 apps[0].tokens[0].verify: the default GET /api/devices")
    assert role in note
    assert "organization-level custom roles are not listed by GET /api/roles" in note
    assert "GUIDs are accepted as written" in note
    assert "\n" not in note


def test_a_custom_role_with_its_own_verify_path_or_beside_a_built_in_role_gets_no_note(tmp_path: Path) -> None:
    custom = GOOD.replace("{role: operator}", "{role: Fleet Reader}")
    assert _notes(tmp_path, custom + "        verify: {path: /api/deviceTemplates}\n") == []
    assert _notes(tmp_path, GOOD.replace("{role: operator}", "{role: Fleet Reader}, {role: operator}")) == []
