"""`python -m emulators up [--env-file F] [--dir D]`: every emulator with the sample world, until SIGTERM/SIGINT.

Writes `KEY=value` lines (IDENTITY_ENDPOINT, IDENTITY_HEADER, SANDBOX_CA_BUNDLE, SANDBOX_VAULT_URL,
SANDBOX_IOTCENTRAL_URL, SANDBOX_IOTTLY_URL, ...) to stdout and to the env file, so anyone can point their
own tools at the sandbox.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from emulators.core.runner import run_until_signalled
from emulators.sandbox import running_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start every emulator with the sample world")
    up.add_argument("--env-file", type=Path, help="also write the KEY=value lines to this file")
    up.add_argument("--dir", type=Path, help="where the CA bundle goes (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
        directory = args.dir or Path(tmp)
        with running_world(directory) as world:
            run_until_signalled(world.settings(), args.env_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
