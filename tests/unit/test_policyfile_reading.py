"""Reading a policy file is bounded and closed: alias bombs, oversized files, foreign tags, bytes that are not
UTF-8, dates that do not exist, deep nesting -- each is one `file:line where: got X, expected Y` line in a
PolicyError, and no other exception leaves `load_policies` whatever the bytes (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotation.errors import PolicyError
from rotation.policy import PolicySet, load_policies
from rotation.policy.specs import app_specs
from rotation.policy.yamltree import MAX_BYTES, MAX_DEPTH, MAX_NODES

ROOT = Path(__file__).parents[2]

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


def laughs(width: int = 10, depth: int = 9) -> str:
    """A "billion laughs" document: `depth` levels of `width` aliases each (width**depth leaves, a few
    hundred bytes), placed where the policy model looks (apps[0].tokens[0].roles)."""
    lines = ["version: 1", f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth)]
    lines += [
        "apps:",
        "  - name: x",
        "    provider: iotcentral",
        "    subdomain: x",
        "    vault: https://kv.example",
        f"    tokens: [{{slot: s, roles: *l{depth - 1}}}]",
    ]
    return "\n".join(lines) + "\n"


def _problems(tmp_path: Path, content: str | bytes) -> list[str]:
    path = tmp_path / "p.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policies([path], {})
    return caught.value.problems


def test_an_alias_bomb_is_refused_at_the_line_that_multiplies_it(tmp_path: Path) -> None:
    text = laughs()
    assert len(text.encode()) < 1000
    problems = _problems(tmp_path, text)
    path = tmp_path / "p.yaml"
    assert problems == [
        (
            f"{path}:6 <yaml>: got more than {MAX_NODES} nodes after alias expansion, expected at most "
            f"{MAX_NODES} (anchors and aliases that repeat a part of the document over and over)"
        )
    ]


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "version: 1\nloop: &a [*a]\napps: []\n")
    assert len(problems) == 1
    assert f"got more than {MAX_DEPTH} levels of nesting" in problems[0]


def test_modest_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    text = GOOD.replace(
        "roles: [{role: operator}]", "roles: &readers [{role: operator}]\n      - slot: other\n        roles: *readers"
    )
    text = text.replace("  - name: contoso-fleet\n", "  - &app\n    name: contoso-fleet\n")
    text += "  - <<: *app\n    name: fabrikam\n    subdomain: fabrikam\n    tokens: [{slot: s, roles: *readers}]\n"
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    apps, _ = app_specs(load_policies([tmp_path / "p.yaml"], {}))
    assert [(a.name, [s.slot for s in a.slots]) for a in apps] == [
        ("contoso-fleet", ["reader", "other"]),
        ("fabrikam", ["s"]),
    ]


def test_a_bad_value_that_came_through_a_merge_key_is_placed_at_the_receiving_map(tmp_path: Path) -> None:
    text = GOOD.replace("  - name: contoso-fleet\n", "  - &app\n    name: contoso-fleet\n")
    text = text.replace("subdomain: contoso-fleet", "subdomain: BAD") + "  - <<: *app\n    name: other\n"
    problems = _problems(tmp_path, text)
    assert [p.split(": got")[0] for p in problems] == [
        f"{tmp_path / 'p.yaml'}:6 apps[0].subdomain",
        f"{tmp_path / 'p.yaml'}:11 apps[1].subdomain",
    ]


def test_every_policy_in_the_repository_loads_within_the_budget() -> None:
    env = {
        "ROTATION_VAULT_URL": "https://kv.vault.azure.net",
        "SANDBOX_IOTCENTRAL_BASE": "https://127.0.0.1:1",
        "SANDBOX_VAULT_URL": "https://127.0.0.1:2",
        "SANDBOX_IOTTLY_URL": "https://127.0.0.1:3",
    }
    files = [
        ROOT / "docs" / "policy-example.yaml",
        *sorted((ROOT / "emulators").rglob("*.yaml")),
        *sorted((ROOT / "policies").rglob("*.yaml")),
    ]
    for path in files:
        assert isinstance(load_policies([path], env), PolicySet), path


def test_a_file_over_the_byte_cap_is_not_parsed(tmp_path: Path) -> None:
    size = MAX_BYTES + 1
    problems = _problems(tmp_path, GOOD + "#" * (size - len(GOOD) - 1) + "\n")
    assert problems == [f"{tmp_path / 'p.yaml'}:1 <file>: got {size} bytes, expected at most {MAX_BYTES} bytes (1 MiB)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\napps: !!python/object/apply:os.system ['true']\n",
            ":2 apps: got the tag '!!python/object/apply:os.system'",
        ),
        (
            "version: 1\napps:\n  - !!python/object:builtins.dict {}\n",
            ":3 apps[0]: got the tag '!!python/object:builtins.dict'",
        ),
        ("version: !custom 1\napps: []\n", ":1 version: got the tag '!custom'"),
        (
            "%TAG !e! tag:example.com,2026:\n---\nversion: !e!one 1\napps: []\n",
            ":3 version: got the tag 'tag:example.com,2026:one'",
        ),
        ("version: 1\napps: []\nx: !!binary aGk=\n", ":3 x: got the tag '!!binary'"),
        ("version: 1\napps: !!set {a}\n", ":2 apps: got the tag '!!set'"),
    ],
)
def test_only_standard_tags(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'p.yaml'}{expected}, expected only standard YAML"), problems


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    data = b"version: 1\napps: []\n# caf\xe9\n"
    at = data.index(0xE9)
    assert _problems(tmp_path, data) == [
        (f"{tmp_path / 'p.yaml'}:3 <file>: got bytes that are not UTF-8 (at byte {at}), expected UTF-8 text")
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-30", "a valid date YYYY-MM-DD"),
        ("2026-13-01", "a valid date YYYY-MM-DD"),
        ("2026-02-28T25:00:00", "a valid date YYYY-MM-DD or timestamp YYYY-MM-DDTHH:MM:SSZ"),
        ("!!timestamp soon", "a valid date YYYY-MM-DD"),
    ],
)
def test_a_date_that_does_not_exist(tmp_path: Path, value: str, expected: str) -> None:
    text = (
        GOOD + f"    allow_unmanaged:\n      - id: ops-admin\n        until: {value}\n        justification: because\n"
    )
    shown = value.removeprefix("!!timestamp ")
    assert _problems(tmp_path, text) == [
        (f"{tmp_path / 'p.yaml'}:12 apps[0].allow_unmanaged[0].until: got {shown!r}, expected {expected}")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: !!int one\napps: []\n", ":1 version: got 'one', expected an integer"),
        (
            "version: 1\napps: []\ndefaults: {renew_at: !!float half}\n",
            ":3 defaults.renew_at: got 'half', expected a number",
        ),
        ("version: 1\napps: []\nx: !!bool maybe\n", ":3 x: got 'maybe', expected true or false"),
        ("version: 1\napps: [\n", ":3 <yaml>: got expected the node content, but found '<stream end>'"),
        ("version: 1\nversion: 1\napps: []\n", ":2 <yaml>: got found duplicate key"),
        ("version: 1\napps: []\nx: a\x00b\n", ":3 <yaml>: got the character #x0000, expected printable text"),
    ],
)
def test_scalars_and_syntax_that_do_not_construct(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'p.yaml'}{expected}"), problems


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 5000])
def test_deep_nesting(tmp_path: Path, depth: int) -> None:
    problems = _problems(tmp_path, "version: 1\napps: []\nx: " + "[" * depth + "]" * depth + "\n")
    assert len(problems) == 1, problems
    assert f"expected at most {MAX_DEPTH} levels" in problems[0]


def _only_policy_outcomes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    problems: list[str] = []
    try:
        result = load_policies([path], {"X": "${X}"})
    except PolicyError as exc:
        problems = exc.problems
        assert problems
    else:
        assert isinstance(result, PolicySet)
    assert all(p.startswith(f"{path}:") for p in problems), problems


# Pieces of YAML that reach the interesting parts: anchors, aliases, merges, tags, flow and block collections,
# dates, keys of the policy model and bad scalars; joined at random into documents.
_PIECES = [
    "version: 1\n",
    "apps:\n",
    "  - ",
    "name: a\n",
    "    name: b\n",
    "    provider: iotcentral\n",
    "provider: iottly\n",
    "subdomain: a\n",
    "subdomain: BAD\n",
    "vault: https://kv.x\n",
    "tokens:\n",
    "- slot: s\n",
    "roles: [{role: operator}]\n",
    "verify: {path: /api/../x}\n",
    "allow_unmanaged:\n",
    "  - id: x\n",
    "until: ",
    "&a ",
    "*a",
    "<<: *a\n",
    "  - <<: *a\n",
    "!!str ",
    "!t ",
    "!!python/name:os.system ",
    "2026-02-30",
    "2026-02-28",
    "[",
    "]",
    "{",
    "}",
    ", ",
    ": ",
    "? ",
    "- ",
    "\n",
    "  ",
    "\t",
    "'",
    '"',
    "#",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "${X}",
    "0x",
    "1e9999",
    "null",
    "~",
    "true",
    "|\n",
    ">-\n",
    "\ufeff",
    "\x85",
    "\u2028",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_policy_set_or_a_policy_error(tmp_path: Path, content: bytes) -> None:
    _only_policy_outcomes(tmp_path, content)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_gives_a_policy_set_or_a_policy_error(tmp_path: Path, text: str) -> None:
    _only_policy_outcomes(tmp_path, text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_any_yaml_like_document_gives_a_policy_set_or_a_policy_error(tmp_path: Path, pieces: list[str]) -> None:
    _only_policy_outcomes(tmp_path, "".join(pieces).encode("utf-8"))
