"""Reads one policy file into a ruamel round-trip tree, refusing what a policy never needs and what would
make reading it unbounded: more than `MAX_BYTES`, bytes that are not UTF-8, tags other than the standard
ones (`!!python/object...`, custom `!tag`), scalars that do not construct (`until: 2026-02-30`), nesting
deeper than `MAX_DEPTH`, and anchors/aliases that multiply the document past `MAX_NODES` (a "billion
laughs" file is a few hundred bytes that expand to billions of nodes; everything after this module walks
the expanded tree, aliases included).

The document is first composed into ruamel's node graph, where aliases are shared nodes and every node
has its line. That graph is walked once, counting nodes as often as they are reached through aliases,
before anything is constructed. Every problem is one `file:line where: got X, expected Y` line in a
`PolicyError`; no exception of ruamel or of decoding leaves `read_tree`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from rotation.errors import PolicyError

MAX_BYTES = 1024 * 1024  # a policy of hundreds of apps is well under 100 KiB
MAX_NODES = 100_000  # after alias expansion; the example policy has about 100
MAX_DEPTH = 32  # a policy nests 6 levels deep

_STANDARD = "tag:yaml.org,2002:"
STANDARD_TAGS = frozenset(
    _STANDARD + t for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "merge")
)
_SCALAR_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "timestamp": "a valid date YYYY-MM-DD",
}
# What constructing a standard scalar from bad text raises in ruamel (int('x'), bool_values['maybe'], ...)
_CONSTRUCT_ERRORS = (YAMLError, ValueError, KeyError, TypeError, ArithmeticError)


def dotted(loc: Sequence[str | int]) -> str:
    """`apps[0].tokens[1].slot`: how every problem names the place in the document."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<document>"


def read_tree(path: Path) -> Any:
    """The round-trip tree (CommentedMap, ...; None for an empty file), or `PolicyError`."""
    text = _decode(path, _read_bytes(path))
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.compose(text)
    except YAMLError as exc:
        raise PolicyError([_yaml_problem(path, text, exc)]) from None
    except RecursionError:
        raise PolicyError(
            [(f"{path}:1 <yaml>: got nesting too deep to read, expected at most {MAX_DEPTH} levels")]
        ) from None
    if node is None:
        return None
    walk = _Walk(path, yaml.constructor)
    walk.visit(node, [], 0)
    if walk.problems:
        raise PolicyError(walk.problems)
    try:
        return yaml.constructor.construct_document(node)
    except _CONSTRUCT_ERRORS as exc:  # the walk constructed every scalar already: a backstop
        if isinstance(exc, YAMLError):
            raise PolicyError([_yaml_problem(path, text, exc)]) from None
        raise PolicyError([f"{path}:1 <yaml>: got {type(exc).__name__}, expected valid YAML"]) from None


def _read_bytes(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes are read, whatever the file claims (a device, a growing file)."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PolicyError([f"{path}:1 <file>: got {exc.strerror}, expected a readable YAML file"]) from None
    if len(data) > MAX_BYTES:
        got = f"{size} bytes" if size > MAX_BYTES else f"more than {MAX_BYTES} bytes"
        raise PolicyError([f"{path}:1 <file>: got {got}, expected at most {MAX_BYTES} bytes (1 MiB)"])
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError(
            [(f"{path}:{line} <file>: got bytes that are not UTF-8 (at byte {exc.start}), expected UTF-8 text")]
        ) from None


def _yaml_problem(path: Path, text: str, exc: YAMLError) -> str:
    """ruamel's own errors: a syntax error, a duplicate key, a character YAML does not allow."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return f"{path}:{line} <yaml>: got {exc.problem or exc.context}, expected valid YAML"
    if isinstance(exc, ReaderError) and isinstance(exc.position, int) and isinstance(exc.character, int):
        line = text.count("\n", 0, exc.position) + 1
        return (
            f"{path}:{line} <yaml>: got the character #x{exc.character:04x}, expected printable text "
            "(YAML allows no control characters but tab and newlines)"
        )
    return f"{path}:1 <yaml>: got {type(exc).__name__}, expected valid YAML"


@dataclass
class _Walk:
    """One pass over the node graph. `line` is where the walk last met a node for the first time: while an
    alias is expanded every node is met again, so a runaway expansion is reported at the alias's line."""

    path: Path
    constructor: Any
    visited: int = 0
    line: int = 1
    seen: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def visit(self, node: Node, loc: list[str | int], depth: int) -> None:
        self.visited += 1
        if id(node) not in self.seen:
            self.seen.add(id(node))
            self.line = node.start_mark.line + 1
            self._check(node, loc)
        if self.visited > MAX_NODES:
            raise PolicyError(
                [
                    (
                        f"{self.path}:{self.line} <yaml>: got more than {MAX_NODES} nodes after alias "
                        f"expansion, expected at most {MAX_NODES} (anchors and aliases that repeat a part "
                        "of the document over and over)"
                    )
                ]
            )
        if depth > MAX_DEPTH:
            raise PolicyError(
                [
                    (
                        f"{self.path}:{self.line} <yaml>: got more than {MAX_DEPTH} levels of nesting, "
                        f"expected at most {MAX_DEPTH} levels"
                    )
                ]
            )
        if isinstance(node, MappingNode):
            for key, value in node.value:
                self.visit(key, loc, depth + 1)
                self.visit(value, [*loc, _key(key)], depth + 1)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.visit(item, [*loc, index], depth + 1)

    def _check(self, node: Node, loc: list[str | int]) -> None:
        tag = str(node.tag)
        if tag not in STANDARD_TAGS:
            shown = "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag
            self.problems.append(
                f"{self.path}:{self.line} {dotted(loc)}: got the tag {shown[:60]!r}, expected "
                "only standard YAML (no tags, or !!str, !!int, !!float, !!bool, !!null, "
                "!!timestamp, !!map, !!seq)"
            )
            return
        kind = tag.removeprefix(_STANDARD)
        if isinstance(node, ScalarNode) and kind in _SCALAR_EXPECTED:
            try:
                self.constructor.construct_object(node, deep=True)
            except _CONSTRUCT_ERRORS:
                expected = _SCALAR_EXPECTED[kind]
                if kind == "timestamp" and len(str(node.value)) > len("YYYY-MM-DD"):
                    expected = "a valid date YYYY-MM-DD or timestamp YYYY-MM-DDTHH:MM:SSZ"
                self.problems.append(
                    f"{self.path}:{self.line} {dotted(loc)}: got {str(node.value)[:60]!r}, expected {expected}"
                )


def _key(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else "<key>"
