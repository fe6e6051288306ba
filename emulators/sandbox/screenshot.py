"""`make report-screenshot`: run the sandbox, then render its audit report (the run right after the first
rotation, which shows resolved findings) in headless Chromium (Debian package `chromium`) to a PNG.

Chromium is started with the flags that keep it off the network (no background networking, component
updates or sync) and a throwaway profile; the page itself loads nothing external.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from emulators.sandbox.__main__ import main as run_sandbox

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def screenshot(html: Path, out: Path, width: int, height: int, scale: float) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("Chromium is needed: apt-get install chromium (Debian), then run make report-screenshot")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--force-device-scale-factor={scale}",
                f"--screenshot={out.resolve()}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.sandbox.screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/audit-report.png"))
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=1900)
    parser.add_argument("--scale", type=float, default=0.65)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        reports = Path(tmp) / "reports"
        if run_sandbox(["--dir", str(Path(tmp) / "sandbox"), "--reports", str(reports)]) != 0:
            return 1
        runs = sorted(p for p in reports.iterdir() if (p / "audit.html").is_file() and not p.is_symlink())
        chosen = runs[1] if len(runs) > 1 else runs[-1]
        screenshot(chosen / "audit.html", args.out, args.width, args.height, args.scale)
    print(f"wrote {args.out} from run {chosen.name}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
