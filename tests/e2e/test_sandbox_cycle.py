"""`make sandbox` end to end: the real CLI in subprocesses against the sample world, twice in a row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _sandbox(tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- our own module, fixed arguments
        [sys.executable, "-m", "emulators.sandbox", "--dir", str(tmp / "sandbox"), "--reports", str(tmp / "reports")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)},
    )


def test_the_sandbox_cycle_rotates_revokes_and_prints_no_token(tmp_path: Path) -> None:
    first = _sandbox(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    assert "No token value in any output" in out
    assert "bootstrap=0" in out
    assert "run=1" in out  # rotation and revocation succeed; the audit still finds the seeded violations
    assert "audit before the first run" in out
    assert "doctor=0" in out  # the pre-flight passes once bootstrap made the identity a user of every app
    assert "ok    live contoso-fleet  accepted after" in out
    assert "Open the latest report:" in out
    for expected in ("minted, verified, promoted", "grace period 24h over", "orphan: no vault version", "revoked"):
        assert expected in out, expected
    summary = out.split("Summary")[1]
    assert "ops-admin" in summary  # the human-made admin token is reported ...
    assert "kept (unmanaged)" in summary
    assert "deleted ops-admin" not in out  # ... and never revoked
    assert "SharedAccessSignature" not in out + first.stderr
    assert "Traceback" not in out + first.stderr
    second = _sandbox(tmp_path)
    assert second.returncode == 0, second.stdout[-3000:]
