"""Reads policy files and turns every problem into one line: `file:line path.to.field: got X, expected Y`.

ruamel.yaml keeps line numbers; pydantic error locations are walked back through the YAML tree to the
line of the key (or list item) at fault. `${NAME}` in string values is replaced from the environment.
All problems of all files are collected before anything is raised, so one run shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from rotation.domain.roles import parse_role_ref
from rotation.domain.values import format_duration
from rotation.errors import PolicyError
from rotation.policy.models import IoTCentralApp, IottlyApp, PolicyFile
from rotation.policy.yamltree import dotted, read_tree

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class LoadedFile:
    path: Path
    policy: PolicyFile
    tree: Any

    def line(self, loc: Sequence[str | int]) -> int:
        """1-based line declaring `loc` (e.g. `["apps", 0, "tokens", 1]`): reports point at it."""
        return _line(self.tree, loc)


@dataclass
class PolicySet:
    files: list[LoadedFile] = field(default_factory=list)

    def apps(self) -> Iterator[tuple[PolicyFile, IoTCentralApp | IottlyApp]]:
        for loaded in self.files:
            for app in loaded.policy.apps:
                yield loaded.policy, app


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            found.append(path)
    return found


def _line(tree: Any, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest node of `loc` found in the YAML tree."""
    node, line = tree, 1
    for part in loc:
        if (isinstance(node, CommentedMap) and part in node) or (
            isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node)
        ):
            line = _at(node, part, line)
            node = node[part]
        elif isinstance(node, CommentedMap | CommentedSeq):
            continue  # a union tag such as 'iotcentral' is not in the document
        else:
            break
    if line == 1 and isinstance(tree, CommentedMap):
        line = tree.lc.line + 1
    return line


def _at(container: CommentedMap | CommentedSeq, part: str | int, line: int) -> int:
    """The line of a key or item. A key that came through a merge (`<<: *app`) has no position in the map
    that received it: the line of that map is the closest one."""
    where = container.lc.data.get(part) if container.lc.data else None
    if where:
        return int(where[0]) + 1
    return int(container.lc.line) + 1 if container.lc.line is not None else line


_UNION_TAGS = ("iotcentral", "iottly", "function-after[_unique_slots(), IoTCentralApp]")


def _path(loc: Sequence[str | int]) -> str:
    """The field as the file spells it (pydantic adds the discriminated union's tag to error locations)."""
    return dotted([part for part in loc if part not in _UNION_TAGS])


def _expected(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this required field"
    if kind == "extra_forbidden":
        return "no such key (unknown keys are errors; see policies/schema.json)"
    if kind in ("invalid_value", "duplicate"):
        return str(error["msg"])
    if kind == "too_short":
        return f"at least {error.get('ctx', {}).get('min_length', 1)} item(s)"
    return str(error["msg"]).removeprefix("Input should be ").removeprefix("Value error, ")


def _got(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return "nothing"
    value = error.get("input")
    if isinstance(value, dict | list):
        plain = repr(dict(value) if isinstance(value, dict) else list(value))
        return plain if len(plain) <= 60 else f"a {type(value).__name__.removeprefix('Commented').lower()}"
    return repr(value)


def _expand(
    node: Any, env: Mapping[str, str], path: Path, problems: list[str], *, loc: list[str | int], root: Any
) -> Any:
    if isinstance(node, CommentedMap):
        for key in list(node):
            node[key] = _expand(node[key], env, path, problems, loc=[*loc, key], root=root)
    elif isinstance(node, CommentedSeq):
        for index, item in enumerate(node):
            node[index] = _expand(item, env, path, problems, loc=[*loc, index], root=root)
    elif isinstance(node, str) and "${" in node:

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                problems.append(
                    f"{path}:{_line(root, loc)} {_path(loc)}: got ${{{name}}} unset, "
                    f"expected environment variable {name} to be set"
                )
                return match.group(0)
            return env[name]

        return ENV_REF.sub(replace, node)
    return node


def _read(path: Path, env: Mapping[str, str], problems: list[str]) -> LoadedFile | None:
    try:
        tree = read_tree(path)
    except PolicyError as exc:
        problems.extend(exc.problems)
        return None
    if not isinstance(tree, CommentedMap):
        problems.append(f"{path}:1 <document>: got {type(tree).__name__}, expected a mapping with version and apps")
        return None
    unset: list[str] = []
    tree = _expand(tree, env, path, unset, loc=[], root=tree)
    problems.extend(unset)
    try:
        policy = PolicyFile.model_validate(tree)
    except PydanticValidationError as exc:
        for raw in exc.errors():
            error: dict[str, Any] = dict(raw)
            loc = error["loc"]
            if "at" in error.get("ctx", {}):  # a model validator's error about one field (models.py)
                loc = (*loc, *error["ctx"]["at"])
                error["input"] = error["ctx"]["got"]
            if error["type"] == "union_tag_invalid":
                ctx = error.get("ctx", {})
                loc = (*loc, ctx.get("discriminator", "provider").strip("'"))
                error.update(input=ctx.get("tag"), msg=f"one of {ctx.get('expected_tags')}")
            if any(f" {_path(loc)}: got ${{" in line for line in unset):
                continue  # already reported as an unset environment variable
            problems.append(f"{path}:{_line(tree, loc)} {_path(loc)}: got {_got(error)}, expected {_expected(error)}")
        return None
    return LoadedFile(path, policy, tree)


def _check_rules(loaded: LoadedFile, problems: list[str]) -> None:
    """Rules across fields: lifetime within max, overlap covers grace, no forbidden role."""
    defaults = loaded.policy.defaults
    forbidden = {parse_role_ref(r).ref for r in defaults.forbid_roles}
    for a, app in enumerate(loaded.policy.apps):
        if not isinstance(app, IoTCentralApp):
            continue
        for t, slot in enumerate(app.tokens):
            loc: list[str | int] = ["apps", a, "tokens", t]
            where = f"{loaded.path}:{_line(loaded.tree, loc)} {_path(loc)}"
            lifetime = slot.lifetime or defaults.lifetime
            renew_at = slot.renew_at or defaults.renew_at
            grace = slot.grace or defaults.grace
            if lifetime > defaults.max_lifetime:
                problems.append(
                    f"{loaded.path}:{_line(loaded.tree, [*loc, 'lifetime'])} {_path(loc)}.lifetime: got "
                    f"{format_duration(lifetime)!r}, expected at most max_lifetime "
                    f"{format_duration(defaults.max_lifetime)}"
                )
            overlap = lifetime * (1 - renew_at)
            if grace > overlap:
                problems.append(
                    f"{where}.grace: got {format_duration(grace)!r}, expected at most (1 - renew_at) * "
                    f"lifetime = {format_duration(_whole(overlap))} so the previous token stays valid "
                    "through the grace period"
                )
            for r, role in enumerate(slot.roles):
                if parse_role_ref(role.role).ref in forbidden and slot.slot != app.api_token_slot:
                    problems.append(
                        f"{loaded.path}:{_line(loaded.tree, [*loc, 'roles', r])} {_path(loc)}.roles[{r}]"
                        f".role: got {role.role!r}, expected a role not in forbid_roles"
                    )


def _whole(delta: timedelta) -> timedelta:
    return timedelta(seconds=int(delta.total_seconds()))


def _check_unique(policies: PolicySet, problems: list[str]) -> None:
    names: dict[str, str] = {}
    secrets: dict[tuple[str, str], str] = {}
    for loaded in policies.files:
        for a, app in enumerate(loaded.policy.apps):
            where = f"{loaded.path}:{_line(loaded.tree, ['apps', a, 'name'])} apps[{a}].name"
            if app.name in names:
                problems.append(f"{where}: got {app.name!r}, expected a name not already used at {names[app.name]}")
            names.setdefault(app.name, where.split(" ", maxsplit=1)[0])
            pairs = (
                [(s.secret or f"iotc-{app.name}-{s.slot}", s.slot) for s in app.tokens]
                if isinstance(app, IoTCentralApp)
                else [(k.secret, k.slot) for k in app.keys]
            )
            for secret, slot in pairs:
                key = (app.vault, secret.lower())
                if key in secrets:
                    problems.append(
                        f"{where}: slot {slot} got secret {secret!r}, expected a secret no other slot "
                        f"uses in {app.vault} (also {secrets[key]})"
                    )
                secrets.setdefault(key, f"{app.name}/{slot}")


def load_policies(paths: Sequence[Path], env: Mapping[str, str]) -> PolicySet:
    problems: list[str] = []
    files = _files(paths)
    if not files:
        raise PolicyError([f"{', '.join(map(str, paths))}:1 <files>: got no policy file, expected *.yaml files"])
    policies = PolicySet()
    for path in files:
        loaded = _read(path, env, problems)
        if loaded is not None:
            _check_rules(loaded, problems)
            policies.files.append(loaded)
    _check_unique(policies, problems)
    if problems:
        raise PolicyError(problems)
    return policies
