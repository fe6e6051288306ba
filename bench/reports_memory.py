"""Peak memory and CPU of the audit's judging and report writing on a synthetic fleet (issue 14 item 1).

`python -m bench.reports_memory [apps] [tokens-per-app]` (default 1,000 x 50, ~292,000 findings) runs, in a
fresh subprocess so `ru_maxrss` is this work's alone: the synthetic observed state (bench/synthetic.py), then
`evaluate_apps` streamed through `write_run` with every format, and prints one JSON line: peak RSS (MB)
after building the fleet and at the end, CPU seconds of judging + writing, findings, open findings, sizes.
Not part of `make test`; the figures go into the bench report, never into a timed assertion.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(apps: int = 1000, per_app: int = 50) -> dict[str, Any]:
    """In this process: build the fleet, then judge and write it. Call through `run` for a clean peak."""
    from bench.synthetic import NOW, synthetic_fleet  # noqa: PLC0415 -- imported in the measured process
    from rotation.audit.evaluate import Observed, Policies, evaluate_apps  # noqa: PLC0415
    from rotation.audit.report.files import write_run  # noqa: PLC0415
    from rotation.audit.report.model import AuditReport  # noqa: PLC0415

    specs, states, checks = synthetic_fleet(apps * per_app, per_app)
    observed, policies = Observed(states, checks), Policies(specs)
    fleet_mb = _peak_mb()
    start = time.process_time()
    report = AuditReport("20261124T120000.000000Z", NOW, observed, policies)
    with tempfile.TemporaryDirectory() as folder:
        run_dir, finished = write_run(report, evaluate_apps(observed, policies, NOW), Path(folder))
        sizes = {p.name: p.stat().st_size for p in run_dir.iterdir() if p.is_file()}
        pages = sum(1 for _ in (run_dir / "apps").glob("*.html")) if (run_dir / "apps").is_dir() else 0
    return {
        "apps": apps,
        "tokens": apps * per_app,
        "findings": finished.tally.total,
        "open": len(finished.open_findings),
        "fleet_peak_mb": round(fleet_mb, 1),
        "peak_mb": round(_peak_mb(), 1),
        "cpu_s": round(time.process_time() - start, 2),
        "bytes": sizes,
        "app_pages": pages,
    }


def run(apps: int = 1000, per_app: int = 50) -> dict[str, Any]:
    """`measure` in a fresh interpreter: its peak RSS is the work's, not the caller's."""
    code = f"import json; from bench.reports_memory import measure; print(json.dumps(measure({apps}, {per_app})))"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*arguments)))
