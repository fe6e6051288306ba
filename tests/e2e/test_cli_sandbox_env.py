"""`make emulators` then `set -a; . ./.sandbox.env; set +a; rotation plan` works: the env file the emulators
write holds every ROTATION_* setting the CLI needs (README, "Try it against the emulators")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_sandbox_env_file_is_all_the_cli_needs(tmp_path: Path) -> None:
    env_file = tmp_path / ".sandbox.env"
    process = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
        [sys.executable, "-m", "emulators", "up", "--env-file", str(env_file), "--dir", str(tmp_path / "ca")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline()  # the file is complete before the first line is printed
        settings = dict(line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines())
        assert {"ROTATION_CA_BUNDLE", "ROTATION_POLICIES"} <= set(settings)
        clean = {
            k: v for k, v in os.environ.items() if not k.startswith(("ROTATION_", "AZURE_", "SANDBOX_", "IDENTITY_"))
        }
        script = f'set -a; . "{env_file}"; set +a; exec "{sys.executable}" -m rotation plan --app contoso-fleet'
        done = subprocess.run(  # noqa: S603
            ["bash", "-c", script],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
            env={**clean, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        )
        assert done.returncode == 0, done.stderr
        assert "contoso-fleet" in done.stdout
        assert "dashboard-reader" in done.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
