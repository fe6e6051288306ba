"""Settings the service reads (app settings in Azure, environment locally). One place, validated once.

| setting | meaning | default |
|---|---|---|
| ROTATION_POLICIES | policy file or folder | policies |
| ROTATION_REPORTS_DIR | where run folders and reports go | reports |
| AZURE_CLIENT_ID | user-assigned managed identity client id | system-assigned / DefaultAzureCredential |
| ROTATION_CA_BUNDLE | PEM bundle for HTTPS (sandbox CA); unset = system trust | unset |
| ROTATION_MAX_CONCURRENCY | apps handled at once | 4 |
| ROTATION_RATE_LIMIT | client-side requests/s per app (IoT Central allows 20) | 15 |
| ROTATION_CLOCK_OFFSET | ISO 8601 duration added to now; honoured only when every endpoint is loopback | unset |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import isodate

from rotation.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    policies: Path
    reports_dir: Path
    client_id: str | None
    ca_bundle: str | None
    max_concurrency: int
    rate_limit: int
    clock_offset: timedelta

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        ca_bundle = env.get("ROTATION_CA_BUNDLE") or None
        if ca_bundle and not Path(ca_bundle).is_file():
            raise ConfigError(f"ROTATION_CA_BUNDLE: got {ca_bundle!r}, expected a readable PEM file")
        return cls(
            policies=Path(env.get("ROTATION_POLICIES", "policies")),
            reports_dir=Path(env.get("ROTATION_REPORTS_DIR", "reports")),
            client_id=env.get("AZURE_CLIENT_ID") or None,
            ca_bundle=ca_bundle,
            max_concurrency=_int(env, "ROTATION_MAX_CONCURRENCY", 4, 1, 64),
            rate_limit=_int(env, "ROTATION_RATE_LIMIT", 15, 1, 19),
            clock_offset=_duration(env, "ROTATION_CLOCK_OFFSET"),
        )


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


def _duration(env: Mapping[str, str], name: str) -> timedelta:
    raw = env.get(name)
    if not raw:
        return timedelta(0)
    try:
        value = isodate.parse_duration(raw)
    except (isodate.ISO8601Error, ValueError):
        value = None
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ConfigError(f"{name}: got {raw!r}, expected a non-negative ISO 8601 duration such as P2D or PT36H")
    return value
