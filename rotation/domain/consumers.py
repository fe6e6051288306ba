"""The consumer contract as a pure check the policy loader can call: a slot's grace period must exceed
the longest interval at which any of its consumers re-reads the secret.

A consumer that re-reads every `refresh` may hold a value up to `refresh` old; the service may revoke a
superseded value `grace` after its successor was promoted. With `grace <= refresh` such a consumer can be
left holding a revoked token (and an App Service Key Vault reference, re-read within 24 hours and never on
a 401, cannot recover by itself until the next re-read). `margin` covers requests in flight and clocks.
"""

from __future__ import annotations

from datetime import timedelta

APP_SERVICE_REFERENCE_REFRESH = timedelta(hours=24)
"""App Service / Functions re-read an unversioned `@Microsoft.KeyVault(SecretUri=...)` reference within
24 hours (or on a configuration change / the config-reference refresh API)."""

DEFAULT_MARGIN = timedelta(hours=1)


def iso(value: timedelta) -> str:
    """A duration as policies write it (PT25H, P2DT1H): whole seconds, days then hours/minutes/seconds."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    out = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return out if out != "P" else "PT0S"


def grace_warning(
    what: str, grace: timedelta, refresh: timedelta, *, consumer: str = "a consumer", margin: timedelta = DEFAULT_MARGIN
) -> str | None:
    """None when `grace` > `refresh` + `margin`; else the warning line ("got X, expected Y")."""
    needed = refresh + margin
    if grace > needed:
        return None
    return (
        f"{what}: got grace {iso(grace)}, expected more than {iso(needed)} ({consumer} re-reads the secret "
        f"every {iso(refresh)}, plus a margin of {iso(margin)}): it may be left holding a revoked token"
    )
