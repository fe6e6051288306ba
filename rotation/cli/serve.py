"""`rotation serve`: run rotate, revoke and audit on their schedules in this process (no Azure Functions)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from rotation.cli.output import guarded
from rotation.errors import ConfigError
from rotation.hosting import schedules
from rotation.hosting.config import Settings
from rotation.hosting.metrics import otlp_endpoint
from rotation.policy.specs import load_app_specs


@guarded
def serve(
    store: Annotated[Path, typer.Option(help="SQLite job store: keeps pending runs across restarts")] = Path(
        ".rotation/serve-jobs.sqlite"
    ),
    misfire_grace: Annotated[int, typer.Option(min=1, help="seconds a missed run may still start late")] = 3600,
    metrics_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="serve /metrics (Prometheus) and /healthz on this port")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="address for --metrics-port")] = "127.0.0.1",
) -> None:
    """Run rotate, revoke and audit on ROTATE_SCHEDULE, REVOKE_SCHEDULE and AUDIT_SCHEDULE (6-field NCRONTAB,
    UTC) until SIGTERM or SIGINT. JSON log lines on stderr."""
    schedules.expressions()  # a bad schedule, setting or policy stops here with one line, exit 2
    otlp_endpoint(os.environ)
    settings = Settings.from_env()
    if settings.fanout == "queue":
        raise ConfigError(
            "ROTATION_FANOUT: got 'queue', expected inline for rotation serve (queue messages are "
            "consumed only by the Function app's rotate_app function)"
        )
    load_app_specs(settings)
    try:
        from rotation.hosting.serve import serve as run  # noqa: PLC0415 -- APScheduler and SQLAlchemy only for serve
    except ModuleNotFoundError as exc:  # the Function app's dependencies, without the serve extra
        raise ConfigError(
            f"rotation serve: got no module {exc.name!r}, expected the serve extra: "
            "pip install 'iotc-token-rotation[serve]'"
        ) from None

    address = (metrics_host, metrics_port) if metrics_port is not None else None
    run(store, misfire_grace=misfire_grace, metrics_address=address)
