"""Settings the service reads (app settings in Azure, environment locally). One place, validated once.

| setting | meaning | default |
|---|---|---|
| ROTATION_POLICIES | policy file or folder; relative: to the app root in Functions, to the cwd in the CLI | policies |
| ROTATION_REPORTS_DIR | where run folders and reports go | reports |
| ROTATION_REPORTS_KEEP | audit: local run folders kept, `50` (runs) or `30d` (days); baselines stay | unset: all |
| ROTATION_STATE_DIR | local runs' per-app lock files (in `locks/`); made absolute at load | per-user state folder |
| AZURE_CLIENT_ID | user-assigned managed identity client id | system-assigned / DefaultAzureCredential |
| ROTATION_CA_BUNDLE | PEM bundle for HTTPS (sandbox CA); unset = system trust | unset |
| ROTATION_MAX_CONCURRENCY | apps handled at once (16: measured, see docs/deploy.md) | 16 |
| ROTATION_RATE_LIMIT | client-side requests/s per app (IoT Central allows 20) | 15 |
| ROTATION_HTTP_TIMEOUT | read timeout in seconds of every HTTP client (connect: the smaller of 5 and it) | 15 |
| ROTATION_CLOCK_OFFSET | ISO 8601 duration added to now; honoured only when every endpoint is loopback | unset |
| ROTATION_FAIL_ON | audit: lowest severity of an open finding that makes the run exit 1 | high |
| ROTATION_REPORTS_ACCOUNT_URL | audit: Blob endpoint reports also go to (managed identity) | unset: local only |
| ROTATION_REPORTS_CONTAINER | audit: the reports container | reports |
| ROTATION_REPORTS_CONNECTION_STRING | audit: instead of the account URL, for Azurite and local runs only | unset |
| ROTATION_FANOUT | `inline`: one invocation runs every app; `queue`: a queue message per app (host storage) | inline |
| ROTATION_QUEUE | fan-out queue in the host storage (poison queue: NAME-poison, made by the host) | rotation-apps |
| ROTATION_LEASE_CONTAINER | blob container of the per-app leases in the host storage account | rotation-leases |
| AzureWebJobsStorage[__…] | Functions host storage (`hosting.hoststorage`); unset = file locks, inline only | unset |
| ROTATION_LOG_LEVEL | DEBUG, INFO or WARNING (CLI: JSON lines on stderr); DEBUG = every library too, redacted | INFO |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import platformdirs

from rotation.audit.report.retention import Retention, parse_keep
from rotation.domain.severity import SEVERITIES
from rotation.domain.values import parse_duration
from rotation.errors import ConfigError, InvalidValue
from rotation.hosting.hoststorage import HostStorage

APP_NAME = "iotc-token-rotation"  # the per-user state folder: platformdirs.user_state_path(APP_NAME)


@dataclass(frozen=True)
class Settings:
    policies: Path
    reports_dir: Path
    client_id: str | None
    ca_bundle: str | None
    max_concurrency: int
    rate_limit: int
    clock_offset: timedelta
    fail_on: str = "high"
    state_dir: Path = field(default_factory=lambda: _state_dir({}))
    reports_account_url: str | None = None
    reports_container: str = "reports"
    reports_connection_string: str | None = None
    reports_keep: Retention | None = None
    fanout: str = "inline"
    queue: str = "rotation-apps"
    lease_container: str = "rotation-leases"
    host_storage: HostStorage | None = None
    log_level: str = "INFO"
    http_timeout: float = 15.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, app_root: Path | None = None) -> Settings:
        """`app_root` (the Function app's folder, see `functions_app_root`) anchors a relative policy path:
        the worker's cwd is the host's choice, not ours. Without it (the CLI) relative stays relative to cwd."""
        env = os.environ if env is None else env
        ca_bundle = env.get("ROTATION_CA_BUNDLE") or None
        if ca_bundle and not Path(ca_bundle).is_file():
            raise ConfigError(f"ROTATION_CA_BUNDLE: got {ca_bundle!r}, expected a readable PEM file")
        return cls(
            policies=_anchored(Path(env.get("ROTATION_POLICIES") or "policies"), app_root),
            reports_dir=Path(env.get("ROTATION_REPORTS_DIR", "reports")),
            client_id=env.get("AZURE_CLIENT_ID") or None,
            ca_bundle=ca_bundle,
            max_concurrency=_int(env, "ROTATION_MAX_CONCURRENCY", 16, 1, 64),
            rate_limit=_int(env, "ROTATION_RATE_LIMIT", 15, 1, 19),
            clock_offset=_duration(env, "ROTATION_CLOCK_OFFSET"),
            http_timeout=_seconds(env, "ROTATION_HTTP_TIMEOUT", 15.0, 300.0),
            fail_on=_choice(env, "ROTATION_FAIL_ON", "high", SEVERITIES),
            state_dir=_state_dir(env),
            reports_account_url=env.get("ROTATION_REPORTS_ACCOUNT_URL") or None,
            reports_container=_container(env.get("ROTATION_REPORTS_CONTAINER") or "reports"),
            reports_connection_string=env.get("ROTATION_REPORTS_CONNECTION_STRING") or None,
            reports_keep=parse_keep(env.get("ROTATION_REPORTS_KEEP") or ""),
            log_level=log_level(env) or "INFO",
            **_host_storage(env),
        )


def functions_app_root(env: Mapping[str, str], entry_file: str) -> Path:
    """The Function app's root: AzureWebJobsScriptRoot (the host sets it) if set, else the folder of the
    entry module (function_app.py), so a relative ROTATION_POLICIES finds the deployed `policies/`."""
    raw = env.get("AzureWebJobsScriptRoot") or ""
    return Path(raw).resolve() if raw else Path(entry_file).resolve().parent


def _anchored(path: Path, root: Path | None) -> Path:
    return path if root is None or path.is_absolute() else root / path


def _state_dir(env: Mapping[str, str]) -> Path:
    """Where local runs keep their per-app lock files. One absolute place per user, fixed when the settings
    are read: a relative lock folder (the reports folder once was) lets two runs started in different working
    directories lock different files and rotate the same slot at once."""
    raw = env.get("ROTATION_STATE_DIR") or ""
    return (Path(raw) if raw else platformdirs.user_state_path(APP_NAME)).resolve()


LOG_LEVELS = ("DEBUG", "INFO", "WARNING")


def log_level(env: Mapping[str, str]) -> str | None:
    """ROTATION_LOG_LEVEL upper-cased, or None when unset (the CLI then logs nothing, the host decides)."""
    raw = env.get("ROTATION_LOG_LEVEL") or ""
    if not raw:
        return None
    if raw.upper() not in LOG_LEVELS:
        raise ConfigError(f"ROTATION_LOG_LEVEL: got {raw!r}, expected one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def _choice(env: Mapping[str, str], name: str, default: str, allowed: Sequence[str]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ConfigError(f"{name}: got {value!r}, expected one of {', '.join(allowed)}")
    return value


def _host_storage(env: Mapping[str, str]) -> dict[str, Any]:
    """Fan-out and leases: the queue mode needs the host storage (fail closed, not a silent inline run)."""
    host = HostStorage.from_env(env)
    fanout = _choice(env, "ROTATION_FANOUT", "inline", ("inline", "queue"))
    if fanout == "queue" and (host is None or not host.has_queue):
        raise ConfigError(
            "ROTATION_FANOUT: got 'queue' without a queue endpoint, expected AzureWebJobsStorage "
            "or AzureWebJobsStorage__accountName / __queueServiceUri"
        )
    # The host names the poison queue NAME-poison, which must itself be a valid name (at most 63).
    return {
        "fanout": fanout,
        "host_storage": host,
        "queue": _container(env.get("ROTATION_QUEUE") or "rotation-apps", "ROTATION_QUEUE", 56),
        "lease_container": _container(
            env.get("ROTATION_LEASE_CONTAINER") or "rotation-leases", "ROTATION_LEASE_CONTAINER"
        ),
    }


def _container(name: str, setting: str = "ROTATION_REPORTS_CONTAINER", longest: int = 63) -> str:
    """Blob container and queue names: 3-63 of [a-z0-9-], starting and ending with a letter or digit, no '--'."""
    if len(name) > longest or not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", name):
        kind = "queue" if "QUEUE" in setting else "blob container"
        raise ConfigError(
            f"{setting}: got {name!r}, expected a {kind} name "
            f"(3-{longest} lowercase letters, digits and single hyphens)"
        )
    return name


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name}: got {raw!r}, expected an integer from {low} to {high}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, highest: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= highest:  # also refuses nan and inf
        raise ConfigError(f"{name}: got {raw!r}, expected a number of seconds above 0 and at most {highest:g}")
    return value


def _duration(env: Mapping[str, str], name: str) -> timedelta:
    raw = env.get(name)
    if not raw:
        return timedelta(0)
    try:
        value = parse_duration(raw, name)
    except InvalidValue:
        value = None
    if value is None or value < timedelta(0):
        raise ConfigError(f"{name}: got {raw!r}, expected a non-negative ISO 8601 duration such as P2D or PT36H")
    return value
