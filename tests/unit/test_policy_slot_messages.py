"""A duplicate slot and an api_token_slot naming no slot are reported like every other policy problem:
one line, at the line of the slot (not the app), with the value itself (not a raw `{slot!r}` template)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotation.errors import PolicyError
from rotation.policy import load_policies

HEAD = """\
version: 1
apps:
  - name: contoso-fleet
    provider: iotcentral
    subdomain: contoso-fleet
    vault: https://kv.vault.azure.net
"""
SLOTS = """\
    tokens:
      - slot: reader
        roles: [{role: operator}]
      - slot: writer
        roles: [{role: operator}]
      - slot: reader
        roles: [{role: operator}]
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policies([path], {})
    return [line.removeprefix(f"{path}:") for line in caught.value.problems]


def test_a_duplicate_slot_points_at_the_second_slot(tmp_path: Path) -> None:
    assert _problems(tmp_path, HEAD + SLOTS) == [
        "12 apps[0].tokens[2].slot: got 'reader', expected a slot name used once per app (also tokens[0])"
    ]


def test_an_api_token_slot_naming_no_slot_points_at_the_setting(tmp_path: Path) -> None:
    first = "      - slot: reader\n        roles: [{role: operator}]\n"
    text = HEAD + "    api_token_slot: admin\n" + SLOTS.replace(first, "", 1)
    assert _problems(tmp_path, text) == [
        "7 apps[0].api_token_slot: got 'admin', expected one of this app's token slots (writer, reader)"
    ]
