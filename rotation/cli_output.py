"""How the CLI speaks: rich tables for people, JSON for machines, one-line errors, the exit codes.

Exit codes: 0 ok, 1 findings at or above --fail-on, 2 user error (nothing changed), 3 some operations
failed (the others completed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rotation.errors import RotationError, UserError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1
    USER_ERROR = 2
    FAILED = 3


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """User errors become one line on stderr and exit 2; other service errors exit 3. No traceback."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            for line in str(exc).splitlines() or [type(exc).__name__]:
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(Exit.USER_ERROR) from None
        except RotationError as exc:
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(Exit.FAILED) from None

    return wrapper


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, frozenset | set | tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(_plain(document), indent=2, sort_keys=True, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*(str(cell) for cell in row))
    console.print(view)
