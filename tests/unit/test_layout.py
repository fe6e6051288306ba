"""The tree's shape rules (CONTRIBUTING: modules < ~300 lines, functions < ~50), checked so they stay true:
a size rule nobody measures drifts. PENDING lists what is known to break a rule today; each entry must
still break it, so the set can only shrink.

Lines are lines of code: blank lines, comments and docstrings do not count. `ruff format` folds a call that
does not fit into one argument per line, so physical lines would measure the formatter, not the code."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rotation"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50

# What is known to break a rule (none today); an entry must still break it, so the sets only shrink.
PENDING_MODULES: set[str] = set()
PENDING_FUNCTIONS: set[str] = set()


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


_NOT_CODE = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
_SCOPES = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


def _code_lines(source: str, tree: ast.Module) -> set[int]:
    """Line numbers holding code: a token other than a comment, outside every docstring."""
    rows = {
        row
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type not in _NOT_CODE
        for row in range(tok.start[0], tok.end[0] + 1)
    }
    for node in ast.walk(tree):
        if isinstance(node, _SCOPES) and node.body and isinstance(node.body[0], ast.Expr):
            doc = node.body[0]
            if isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
                rows -= set(range(doc.lineno, (doc.end_lineno or doc.lineno) + 1))
    return rows


def _parsed(path: Path) -> tuple[ast.Module, set[int]]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    return tree, _code_lines(source, tree)


def _long_modules() -> set[str]:
    return {_rel(p) for p in _modules() if len(_parsed(p)[1]) > MAX_MODULE_LINES}


def _long_functions() -> set[str]:
    found = set()
    for path in _modules():
        tree, code = _parsed(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if len({r for r in code if first <= r <= (node.end_lineno or node.lineno)}) > MAX_FUNCTION_LINES:
                    found.add(f"{_rel(path)}::{node.name}")
    return found


def test_every_module_is_at_most_300_lines() -> None:
    assert _long_modules() - PENDING_MODULES == set()


def test_every_function_is_at_most_50_lines() -> None:
    assert _long_functions() - PENDING_FUNCTIONS == set()


def test_pending_entries_still_need_to_be_pending() -> None:
    """A file that got short enough leaves PENDING (the exemption list only shrinks)."""
    assert PENDING_MODULES - _long_modules() == set()
    assert PENDING_FUNCTIONS - _long_functions() == set()


def _layout_paths() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def test_readme_layout_names_only_existing_paths() -> None:
    paths = _layout_paths()
    assert paths, "README.md has no layout table"
    assert [p for p in paths if not (ROOT / p).exists()] == []


def test_readme_layout_names_every_subpackage_of_rotation() -> None:
    subpackages = {f"rotation/{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages - set(_layout_paths()) == set()


_DOC_REFERENCE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.md)\b(?!\.j2)")


def _dangling(text: str) -> list[str]:
    """Document references that name no file of the project: a path (`docs/protocol.md`) must exist from the
    root, a bare upper-case name (`README.md`) at the root; a lower-case bare name is an output file's name."""
    found = []
    for name in _DOC_REFERENCE.findall(text):
        if "/" in name:
            if not (ROOT / name).is_file():
                found.append(name)
        elif name[0].isupper() and not (ROOT / name).is_file():
            found.append(name)
    return found


def test_every_document_the_code_points_to_is_part_of_the_project() -> None:
    """Docstrings point to docs/ and the project's own files, never to a document that ships elsewhere."""
    hits = {
        _rel(p): _dangling(p.read_text(encoding="utf-8"))
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix in {".py", ".j2", ".html", ".md"}
    }
    assert {path: names for path, names in hits.items() if names} == {}


def test_every_exception_class_is_defined_in_rotation_errors() -> None:
    """One exception tree in one module: callers catch by class, and the CLI maps classes to exit codes."""
    import rotation.errors

    ours = {
        name
        for name, value in vars(rotation.errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }

    def is_exception(node: ast.ClassDef) -> bool:
        return any(
            isinstance(b, ast.Name) and (b.id in ours or b.id.endswith(("Error", "Exception"))) for b in node.bases
        )

    elsewhere = [
        f"{_rel(path)}::{node.name}"
        for path in _modules()
        if path != PACKAGE / "errors.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and is_exception(node)
    ]
    assert elsewhere == []
