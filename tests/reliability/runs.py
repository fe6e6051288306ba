"""CLI runs for the reliability tests: each one a real `rotation` process (forked by `forkserver`), with its
exit code, stdout and stderr; and the convergence loop that follows a faulted run."""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.reliability.tap import WAIT

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliRun:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def label(self) -> str:
        return "rotation " + " ".join(self.argv)

    def document(self) -> Any:
        """The --json output, or None when stdout is not one JSON document."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def planned(self) -> list[dict[str, Any]]:
        """Every planned action of every app (Blocked ones included) in the --json output."""
        document = self.document()
        apps = document.get("apps", []) if isinstance(document, dict) else []
        return [a for app in apps if isinstance(app, dict) for a in app.get("planned") or [] if isinstance(a, dict)]


class ForkServer:
    """The client side of `tests.reliability.forkserver`: one child process at a time."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.forkserver"],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._buffer = b""
        self._counter = 0
        ready = self._read()
        if not ready.get("ready"):
            raise RuntimeError(f"fork server: got {ready!r}, expected ready")

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            readable, _, _ = select.select([fd], [], [], WAIT)
            chunk = os.read(fd, 65536) if readable else b""
            if not chunk:
                raise RuntimeError(f"fork server: no answer within {WAIT:.0f} s (exit code {self._process.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def run(
        self, argv: list[str], env: Mapping[str, str], directory: Path, on_pid: Callable[[int], None] | None = None
    ) -> CliRun:
        """`rotation *argv` in a new process; `on_pid` learns its pid before it makes any request it cannot
        make without the pid being known (the tap waits for it)."""
        assert self._process.stdin is not None
        self._counter += 1
        out, err = directory / f"run-{self._counter}.out", directory / f"run-{self._counter}.err"
        request = {"argv": argv, "env": dict(env), "stdout": str(out), "stderr": str(err)}
        self._process.stdin.write((json.dumps(request) + "\n").encode())
        self._process.stdin.flush()
        pid = int(self._read()["pid"])
        if on_pid is not None:
            on_pid(pid)
        done = self._read()
        if done.get("pid") != pid:
            raise RuntimeError(f"fork server: got {done!r}, expected the end of pid {pid}")
        return CliRun(
            tuple(argv),
            int(done["returncode"]),
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"),
        )

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=WAIT)
        if self._process.stdout is not None:
            self._process.stdout.close()


_SERVER: list[ForkServer] = []


def fork_server() -> ForkServer:
    """The session's fork server, started on first use (the matrix needs it at collection already)."""
    if not _SERVER:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATION_", "AZURE_", "IDENTITY_"))}
        base.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"})
        _SERVER.append(ForkServer(base))
        atexit.register(close_fork_server)
    return _SERVER[0]


def close_fork_server() -> None:
    while _SERVER:
        _SERVER.pop().close()


ADVANCE = timedelta(hours=26)  # past grace (24 h) + orphan safety window (1 h)
MAX_ROUNDS = 3
