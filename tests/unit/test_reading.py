"""The reading test of the layout: from README's "where each behaviour lives" table, a newcomer looking for
rotate, revoke, audit, bootstrap or import reaches the code in one hop: every row names a file that exists and
the function or class it names is defined at the top level of that file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEHAVIOURS = ("rotate", "revoke", "audit", "bootstrap", "import")
ROW = re.compile(r"^\| ([^|]+) \| (.+) \|$", re.MULTILINE)
TARGET = re.compile(r"`([^`]+\.py)` \(`([A-Za-z_]+)`\)")


def _rows() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("Where each behaviour lives", 1)[1].split("\n\n", 2)[1]
    return [(m.group(1).strip(), m.group(2)) for m in ROW.finditer(section) if not m.group(1).startswith("-")]


def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    names |= {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign | ast.AnnAssign)
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        if isinstance(t, ast.Name)
    }
    return name in names


def test_every_behaviour_is_one_hop_from_the_readme() -> None:
    rows = _rows()
    for behaviour in BEHAVIOURS:
        assert any(what.startswith(behaviour) for what, _ in rows), f"README names no code for {behaviour}"


def test_every_named_file_defines_what_the_row_says() -> None:
    targets = [(what, m.group(1), m.group(2)) for what, code in _rows() for m in TARGET.finditer(code)]
    assert len(targets) >= len(BEHAVIOURS)
    for what, path, name in targets:
        assert (ROOT / path).is_file(), f"{what}: got {path}, expected an existing file"
        assert _defines(ROOT / path, name), f"{what}: {path} defines no top-level {name}"
