"""How the CLI speaks: rich tables for people, JSON for machines, one-line errors, the exit codes.

Exit codes: 0 ok, 1 findings at or above --fail-on, 2 user error (nothing changed), 3 some operations
failed (the others completed), 4 internal error (an exception the service does not know: a bug, or a
foreign error no adapter mapped; whatever it interrupted is repaired by the next run).

Every error is one line on stderr; `rotation --debug` (or ROTATION_LOG_LEVEL=DEBUG) adds its traceback
and every library's log lines (JSON, redacted by `rotation.hosting.telemetry`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from enum import Enum, IntEnum
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from rotation.adapters.tls import PATTERN as CERTIFICATE_HINT
from rotation.cli.tables import Col, render
from rotation.errors import RotationError, UserError
from rotation.hosting import telemetry
from rotation.hosting.config import log_level

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1
    USER_ERROR = 2
    FAILED = 3
    INTERNAL = 4


def debugging() -> bool:
    """`rotation --debug` (which sets ROTATION_LOG_LEVEL=DEBUG) or ROTATION_LOG_LEVEL=DEBUG."""
    return os.environ.get("ROTATION_LOG_LEVEL", "").upper() == "DEBUG"


def start_logging(debug: bool) -> None:
    """No log output unless asked for: the CLI's output is its tables and one-line errors. `--debug` or
    ROTATION_LOG_LEVEL: JSON lines on stderr; at DEBUG from every library. Library warnings that only
    repeat an error the CLI reports itself (azure-identity's "get_token failed") stay quiet otherwise.

    `--debug` is written into this process's ROTATION_LOG_LEVEL, so that `Settings.log_level` (read by
    every command) is DEBUG too and the adapters turn on the Azure SDK's HTTP logging."""
    if debug:
        os.environ["ROTATION_LOG_LEVEL"] = "DEBUG"
    chosen = log_level(os.environ)
    if chosen is None:
        telemetry.configure(env={}, quiet_level=logging.ERROR, azure_monitor=False)
    else:
        telemetry.configure(
            stream=sys.stderr, level=logging.getLevelNamesMapping()[chosen], env={}, azure_monitor=False
        )


def _say(line: str) -> None:
    err_console.print(telemetry.redact(line), markup=False, highlight=False, soft_wrap=True)


def _traceback(exc: BaseException, debug: bool | None = None) -> None:
    if debugging() if debug is None else debug:
        sys.stderr.write(telemetry.redact("".join(traceback.format_exception(exc))))
        sys.stderr.flush()


def internal_error(exc: Exception, debug: bool | None = None) -> int:
    """The last resort: one line (and the traceback with --debug) for an exception nobody mapped.
    `debug` defaults to `debugging()`."""
    debug = debugging() if debug is None else debug
    _traceback(exc, debug)
    message = " ".join(str(exc).split()) or "no message"
    hint = "" if debug else " (run with --debug for the traceback)"
    _say(f"internal error: {type(exc).__name__}: {message}{hint}")
    return Exit.INTERNAL


def tls_cause(text: str) -> str | None:
    """An untrusted certificate, which fails every request alike, said once instead of once per request."""
    found = CERTIFICATE_HINT.search(text)
    return found.group(0) if found else None


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """User errors become one line on stderr and exit 2; other service errors exit 3; anything else
    (not typer's or click's own exits) exit 4. A traceback only with --debug."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            _traceback(exc)
            for line in str(exc).splitlines() or [type(exc).__name__]:
                _say(line)
            raise typer.Exit(Exit.USER_ERROR) from None
        except RotationError as exc:
            _traceback(exc)
            _say(f"error: {tls_cause(str(exc)) or exc}")
            raise typer.Exit(Exit.FAILED) from None
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own exits and usage errors
            raise
        except Exception as exc:  # noqa: BLE001 -- the error boundary: one line, exit 4, never a traceback page
            raise typer.Exit(internal_error(exc)) from None

    return wrapper


def plain(value: Any) -> Any:
    """JSON-ready values; an enum is its value (an outcome's `action` is the same string either way)."""
    if isinstance(value, Enum):
        return plain(value.value)
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, frozenset | set | tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(plain(document), indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def progress_bar(label: str, total: int, on: Console | None = None) -> Iterator[Callable[[str], None]]:
    """A transient bar on a terminal (none when piped, in CI, or in a Function's log): yields the callback
    to call once per app done (thread-safe: rich's Progress locks)."""
    chosen = on or console
    with Progress(console=chosen, transient=True, disable=not chosen.is_terminal) as progress:
        task = progress.add_task(label, total=total)
        yield lambda _: progress.advance(task)


def table(title: str, columns: Sequence[str | Col], rows: Iterable[Sequence[object]]) -> None:
    """A table that wraps by column on a narrow terminal (`rotation.cli.tables`)."""
    console.print(render(title, columns, rows, width=console.width))
