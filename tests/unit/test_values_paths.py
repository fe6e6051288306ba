"""`check_api_path`: the path a new token is sent to stays under the app's /api/ (no dot segments, plain or
escaped, no `//`, query, fragment or odd characters); the schema's pattern never refuses what it accepts.
Also: the name checks accept no trailing newline (a `$` in a pattern matches before one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rotation.domain.ids import check_token_id, is_guid
from rotation.domain.values import check_api_path, check_name, check_organization, check_secret_name, check_subdomain
from rotation.errors import InvalidValue, PolicyError
from rotation.policy import load_policies, schema

GOOD_PATHS = [
    "/api/",
    "/api/devices",
    "/api/devices/",
    "/api/devices/thermostat-01/telemetry",
    "/api/roles",
    "/api/.well-known",
    "/api/devices/a..b",
    "/api/users/x@y",
    "/api/devices/urn:dev:1",
    "/api/devices/%41bc",
    "/api/a_b~c.d-e",
]
BAD_PATHS = [
    ("/devices", "starting with /api/"),
    ("/api", "starting with /api/"),
    ("api/devices", "starting with /api/"),
    ("/API/devices", "starting with /api/"),
    ("", "starting with /api/"),
    ("/api/..", "no '.' or '..' segment"),
    ("/api/../apps/other", "no '.' or '..' segment"),
    ("/api/./devices", "no '.' or '..' segment"),
    ("/api/devices/..", "no '.' or '..' segment"),
    ("/api/devices/.", "no '.' or '..' segment"),
    ("/api/%2e%2e/x", "no '.' or '..' segment"),
    ("/api/%2E%2e/x", "no '.' or '..' segment"),
    ("/api/.%2E", "no '.' or '..' segment"),
    ("/api/%2e/x", "no '.' or '..' segment"),
    ("/api//devices", "no empty segment"),
    ("/api/devices//", "no empty segment"),
    ("/api/devices\\..\\x", "only A-Z"),
    ("/api/devices?x=1", "only A-Z"),
    ("/api/devices#top", "only A-Z"),
    ("/api/dev ices", "only A-Z"),
    ("/api/devices\n", "only A-Z"),
    ("/api/\tdevices", "only A-Z"),
    ("/api/dev\x00", "only A-Z"),
    ("/api/caf\u00e9", "only A-Z"),
    ("/api/a;b", "only A-Z"),
    ("/api/%", "only A-Z"),
    ("/api/%2", "only A-Z"),
    ("/api/%zz", "only A-Z"),
    ("/api/%2f..%2fx", "no escape of '/'"),
    ("/api/a%2Fb", "no escape of '/'"),
    ("/api/%5c", "no escape"),
    ("/api/%3f", "no escape"),
    ("/api/%23", "no escape"),
    ("/api/%20", "no escape"),
    ("/api/%00", "no escape"),
    ("/api/%252e%252e/x", "no escape"),
    ("/api/%ff", "no escape"),
    ("/api/" + "a" * 1100, "at most 1024"),
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_paths_under_api_are_accepted(path: str) -> None:
    assert check_api_path(path, "verify.path") == path


@pytest.mark.parametrize(("path", "expected"), BAD_PATHS)
def test_paths_that_could_leave_api_are_refused(path: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_api_path(path, "verify.path")
    assert caught.value.what == "verify.path"
    assert caught.value.got == path
    assert caught.value.expected.startswith("a path under /api/ such as /api/devices: ")
    assert expected in caught.value.expected


def test_a_path_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidValue):
        check_api_path(42, "verify.path")  # type: ignore[arg-type]


def _pattern() -> re.Pattern[str]:
    path = schema()["$defs"]["Verify"]["properties"]["path"]  # optional: a string with a pattern, or null
    [text] = [branch for branch in path["anyOf"] if branch.get("type") == "string"]
    return re.compile(text["pattern"])


def test_the_schema_pattern_refuses_plain_dot_segments_and_empty_ones() -> None:
    pattern = _pattern()
    assert all(pattern.search(p) for p in GOOD_PATHS)
    for bad in ("/api/..", "/api/../x", "/api/./x", "/api/x/.", "/api//x", "/api?x", "/devices", "/api"):
        assert not pattern.search(bad), bad


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="/.%2eE5cfF_a~:@-?#\\ ", max_size=24).map(lambda tail: "/api/" + tail))
def test_the_schema_pattern_accepts_whatever_the_check_accepts(path: str) -> None:
    try:
        check_api_path(path)
    except InvalidValue:
        return
    assert _pattern().search(path), path
    assert not any(segment in (".", "..") for segment in path.replace("%2e", ".").replace("%2E", ".").split("/"))


@pytest.mark.parametrize("check", [check_name, check_subdomain, check_organization, check_secret_name, check_token_id])
def test_names_with_a_trailing_newline_are_refused(check: object) -> None:
    assert callable(check)
    with pytest.raises(InvalidValue):
        check("reader\n")


def test_a_guid_with_a_trailing_newline_is_not_a_guid() -> None:
    assert is_guid("ae2c9854-393b-4f97-8c42-479d70ce626e")
    assert not is_guid("ae2c9854-393b-4f97-8c42-479d70ce626e\n")


def test_a_policy_name_written_as_a_block_scalar_keeps_no_newline(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\napps:\n  - name: |\n      contoso\n    provider: iotcentral\n    subdomain: contoso\n"
        "    vault: https://kv.vault.azure.net\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        load_policies([path], {})
    assert caught.value.problems[0].startswith(f"{path}:3 apps[0].name: got 'contoso\\n', expected lowercase")
