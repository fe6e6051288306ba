"""The paper trail of the CLI's manual actions (issue 15): `--reason`, the confirmation of `revoke-now`, and
`recorded`, which runs an action and then writes its event (`rotation.hosting.manual.record`) with how it
ended: done, failed (a service error, or anything unexpected) or refused (the engine said no: bad input).

Argument problems (a missing or token-like `--reason`, no terminal to confirm on) are found before anything
is read or changed and write no event. A dry run writes none either: it changes nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from rotation.cli.output import Exit, err_console
from rotation.domain.events import Action, Outcome
from rotation.engine.jobs import JobResult
from rotation.errors import UserError
from rotation.hosting import manual
from rotation.hosting.runtime import Runtime

T = TypeVar("T")

ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="why you do this: recorded with who and when in the audit trail")
]
_MINTED = re.compile(r"\bminted (\S+?),")


def confirm_revoke(app: str, token_id: str, *, yes: bool) -> None:
    """On a terminal, ask; without one, never wait on stdin: --yes says it was meant."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "--yes: got no terminal to confirm on, expected --yes to revoke without asking; nothing revoked"
        )
    if not typer.confirm(f"Revoke token {token_id} of app {app}?", default=False):
        raise UserError(f"confirmation: got no, expected y to revoke {token_id}; nothing revoked")


def recorded(
    runtime: Runtime,
    action: Action,
    app: str,
    act: Callable[[], T],
    *,
    reason: str,
    slot: str | None = None,
    token_id: str | None = None,
    via: Callable[[], str] = lambda: "",
    describe: Callable[[T], tuple[Outcome, str, str | None]] | None = None,
) -> tuple[T, list[str]]:
    """Runs `act`, then records its event whatever happened; an exception is re-raised after its event is
    written. Returns the result and the stores that could not take the event (see `unrecorded`).
    `describe(result)`: (outcome, detail, token id) of a finished action; by default done, `str(result)`."""

    def write(outcome: Outcome, detail: str, token: str | None) -> list[str]:
        who = manual.principal(runtime, via=_safely(via))
        _, errors = manual.record(
            runtime, action, app, reason=reason, outcome=outcome, who=who, slot=slot, token_id=token, detail=detail
        )
        return errors

    try:
        result = act()
    except UserError as exc:
        write("refused", str(exc), token_id)
        raise
    except Exception as exc:
        write("failed", f"{type(exc).__name__}: {exc}", token_id)
        raise
    outcome, detail, token = describe(result) if describe else ("done", str(result), token_id)
    return result, write(outcome, detail, token)


def _safely(via: Callable[[], str]) -> str:
    try:
        return via()
    except Exception:  # noqa: BLE001 -- attribution is best effort; the event is written anyway
        return ""


def unrecorded(command: str, errors: list[str]) -> None:
    """After the command's own output: the action happened but its record is missing somewhere; exit 3."""
    if not errors:
        return
    for error in errors:
        err_console.print(
            f"{command}: done, but its audit event was not stored: {error}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(Exit.FAILED)


def rotation_outcome(slot: str) -> Callable[[JobResult], tuple[Outcome, str, str | None]]:
    """How a forced rotation of `slot` ended, and the token it minted (from the Mint outcome's detail)."""

    def describe(result: JobResult) -> tuple[Outcome, str, str | None]:
        mine = [o for o in result.outcomes() if o.slot in (slot, None)]
        detail = "; ".join(f"{o.action}: {o.status} {o.detail}".strip() for o in mine) or "nothing to do"
        minted = next((m.group(1) for o in mine if o.status == "done" and (m := _MINTED.search(o.detail))), None)
        done = not result.failed and any(o.status == "done" for o in mine)  # a skipped run (lock held) did nothing
        return ("done" if done else "failed"), detail, minted

    return describe
