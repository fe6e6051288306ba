# ruff: noqa: E501 -- a table of bad inputs reads best one case per line
"""Policy files: every documented bad input is answered with one clear line naming file, line, field, value
and what was expected; good files become AppSpecs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from rotation.errors import PolicyError
from rotation.policy import load_policies, schema
from rotation.policy.specs import app_specs

ROOT = Path(__file__).parents[2]
ENV = {"ROTATION_VAULT_URL": "https://kv-contoso.vault.azure.net"}

GOOD = """\
version: 1
apps:
  - name: contoso-fleet
    provider: iotcentral
    subdomain: contoso-fleet
    vault: https://kv.vault.azure.net
    tokens:
      - slot: reader
        roles: [{role: operator}]
"""


def _problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policies([path], env or {})
    return caught.value.problems


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("version: 1", "version: 2", ":1 version: got 2, expected 1"),
        (
            "    subdomain: contoso-fleet",
            "    subdomain: Contoso_Fleet",
            ":5 apps[0].subdomain: got 'Contoso_Fleet', expected a DNS label",
        ),
        (
            "    vault: https://kv.vault.azure.net",
            "    vault: http://kv.vault.azure.net",
            ":6 apps[0].vault: got 'http://kv.vault.azure.net', expected an https:// URL",
        ),
        (
            "    vault: https://kv.vault.azure.net",
            "    vault: https://user:pw@kv.vault.azure.net",
            "expected a URL without user or password",
        ),
        (
            "      - slot: reader",
            "      - slot: Reader!",
            ":8 apps[0].tokens[0].slot: got 'Reader!', expected lowercase letters",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: []",
            ":9 apps[0].tokens[0].roles: got [], expected at least 1 item",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: administrator}]",
            "apps[0].tokens[0].roles[0].role: got 'administrator', expected a role not in forbid_roles",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        lifetime: P1M",
            ":10 apps[0].tokens[0].lifetime: got 'P1M', expected a fixed-length duration",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        lifetime: P400D",
            ":10 apps[0].tokens[0].lifetime: got 'P400D', expected at most max_lifetime P90D",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        lifetime: thirty",
            "got 'thirty', expected an ISO 8601 duration",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        renew_at: 1.5",
            "renew_at: got 1.5, expected less than 1",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        grace: P20D",
            "grace: got 'P20D', expected at most (1 - renew_at) * lifetime = P9DT21H36M",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        secret: bad_name",
            "secret: got 'bad_name', expected a Key Vault secret name",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        colour: blue",
            ":10 apps[0].tokens[0].colour: got 'blue', expected no such key",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        verify: {path: /devices}",
            ":10 apps[0].tokens[0].verify.path: got '/devices', expected a path under /api/ such as /api/devices: starting with /api/",
        ),
        (
            "        roles: [{role: operator}]",
            "        roles: [{role: operator}]\n        verify: {budget: PT20M}",
            ":10 apps[0].tokens[0].verify.budget: got 'PT20M', expected a duration from PT1S to PT10M",
        ),
        (
            "    provider: iotcentral",
            "    provider: azure",
            ":4 apps[0].provider: got 'azure', expected one of 'iotcentral', 'iottly'",
        ),
        (
            "    vault: https://kv.vault.azure.net",
            "    vault: ${NOT_SET}",
            ":6 apps[0].vault: got ${NOT_SET} unset, expected environment variable NOT_SET to be set",
        ),
        ("version: 1", "version: 1\nversion: 1", "expected valid YAML"),
    ],
)
def test_bad_input_gets_one_clear_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "p.yaml") + ":") for p in problems)


def test_duplicate_slots_apps_and_secrets_are_refused(tmp_path: Path) -> None:
    slot = "      - slot: reader\n        roles: [{role: operator}]\n"
    assert any("a slot name used once per app" in p for p in _problems(tmp_path, GOOD + slot))
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.yaml").write_text(GOOD, encoding="utf-8")
    (other / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policies([other], {})
    assert any("expected a name not already used" in p for p in caught.value.problems)
    assert any("expected a secret no other slot uses" in p for p in caught.value.problems)


def test_good_policy_becomes_app_specs_with_defaults_merged(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD, encoding="utf-8")
    [app], iottly = app_specs(load_policies([tmp_path], {}))
    assert iottly == []
    assert app.base_url == "https://contoso-fleet.azureiotcentral.com"
    [slot] = app.slots
    assert slot.secret == "iotc-contoso-fleet-reader"
    assert slot.lifetime == timedelta(days=30)
    assert slot.roles[0].ref == "ae2c9854-393b-4f97-8c42-479d70ce626e"
    assert (slot.verify_path, slot.verify_budget) == (None, None)  # the executor's defaults


def test_a_slot_may_set_its_verification_budget_alone(tmp_path: Path) -> None:
    text = GOOD.replace("roles: [{role: operator}]", "roles: [{role: operator}]\n        verify: {budget: PT2M}")
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    [app], _ = app_specs(load_policies([tmp_path], {}))
    [slot] = app.slots
    assert (slot.verify_method, slot.verify_path, slot.verify_budget) == ("GET", None, timedelta(minutes=2))


def test_the_example_policy_validates() -> None:
    apps, iottly = app_specs(load_policies([ROOT / "docs" / "policy-example.yaml"], ENV))
    assert [a.name for a in apps] == ["contoso-fleet"]
    assert [k.secret for a in iottly for k in a.keys] == ["iottly-greenhouse-ingest"]
    assert {r.ref for s in apps[0].slots for r in s.roles} >= {"344138e9-8de4-4497-8c54-5237e96d6aaf"}


def test_checked_in_schema_is_fresh() -> None:
    current = json.loads((ROOT / "policies" / "schema.json").read_text(encoding="utf-8"))
    assert current == schema(), "policies/schema.json is stale: run `rotation policies schema > policies/schema.json`"
