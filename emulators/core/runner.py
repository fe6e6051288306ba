"""Keeps a `python -m emulators.X` process alive until SIGTERM/SIGINT, after printing where it listens."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def write_env(settings: dict[str, str], env_file: Path | None = None) -> None:
    """The file first (atomically), then stdout: whoever reads stdout can rely on the file."""
    lines = "".join(f"{key}={value}\n" for key, value in settings.items())
    if env_file is not None:
        partial = env_file.with_name(env_file.name + ".partial")
        partial.write_text(lines, encoding="utf-8")
        partial.replace(env_file)
    sys.stdout.write(lines)
    sys.stdout.flush()


def run_until_signalled(settings: dict[str, str], env_file: Path | None = None) -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    write_env(settings, env_file)
    stop.wait()
