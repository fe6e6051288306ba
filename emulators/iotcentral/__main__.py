"""``python -m emulators.iotcentral [--dir D] [--env-file F]``: one demo application until SIGTERM/SIGINT.

Prints the base URL, the demo app's URL and the CA bundle to trust. The demo app's administrator API
token goes to an owner-only file (its path is printed, never the value), as a person would copy it from
the web UI. Bearer tokens need the sandbox authority's key, so use ``python -m emulators up`` for those.
"""

from __future__ import annotations

import argparse
import os
import stat
import tempfile
from pathlib import Path

from emulators.core import SandboxAuthority, SandboxCA
from emulators.core.runner import run_until_signalled
from emulators.iotcentral.emulator import IoTCentralEmulator

DEMO_APP = "demo"


def _write_private(path: Path, content: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.iotcentral", description=__doc__)
    parser.add_argument("--dir", type=Path, help="where the CA bundle and token file go (default: temporary)")
    parser.add_argument("--env-file", type=Path, help="also write the KEY=value lines to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iotcentral-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        ca = SandboxCA(directory)
        emulator = IoTCentralEmulator(SandboxAuthority())
        app = emulator.add_app(DEMO_APP)
        app.add_organization("demo-org", "Demo organization")
        app.add_device("demo-device-1", organization="demo-org")
        app.add_device("demo-device-2")
        token_file = _write_private(
            directory / "iotcentral-demo-admin-token", app.create_token("demo-admin", ["administrator"])
        )
        with emulator.serve(ca) as base_url:
            run_until_signalled(
                {
                    "SANDBOX_IOTCENTRAL_BASE": base_url,
                    "SANDBOX_IOTCENTRAL_URL": emulator.app_url(base_url, DEMO_APP),
                    "SANDBOX_CA_BUNDLE": str(ca.pem_path),
                    "SANDBOX_IOTCENTRAL_TOKEN_FILE": str(token_file),
                },
                args.env_file,
            )
        ca.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
