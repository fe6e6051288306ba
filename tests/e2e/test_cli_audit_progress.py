"""The audit has a progress bar like rotate's: advanced once per app read, shown on a terminal only."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from rich.console import Console

from emulators.sandbox import RunningWorld
from rotation.audit.run import run_audit
from rotation.cli.output import progress_bar
from tests.integration.audit_support import audit_runtime


def test_the_audit_reports_each_app_once(world: RunningWorld, tmp_path: Path) -> None:
    runtime = audit_runtime(world, tmp_path / "reports")
    seen: list[str] = []
    lock = threading.Lock()

    def done(app: str) -> None:
        with lock:
            seen.append(app)

    try:
        run_audit(runtime, out_dir=tmp_path / "reports", on_app_done=done)
    finally:
        runtime.close()
    assert sorted(seen) == sorted([a.name for a in runtime.apps] + [a.name for a in runtime.iottly_apps])


def _shown(*, terminal: bool) -> str:
    out = io.StringIO()
    on = Console(file=out, force_terminal=terminal, width=80)
    with progress_bar("audit", 2, on) as advance:
        advance("contoso-fleet")
        on.print("between", markup=False)  # a print while the bar is live makes rich draw it
        advance("greenhouse")
    return out.getvalue()


def test_the_bar_is_drawn_on_a_terminal_only() -> None:
    assert "audit" in _shown(terminal=True)
    assert _shown(terminal=False) == "between\n"
