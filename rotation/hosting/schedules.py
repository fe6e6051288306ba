"""Every schedule of the service, declared once, rendered for both engines that run it.

The Azure Functions timers read 6-field NCRONTAB expressions (`second minute hour day month day-of-week`)
from app settings (`schedule="%ROTATE_SCHEDULE%"`); `rotation serve` runs the same expressions with
APScheduler. The two engines disagree on weekday numbers: cron and NCRONTAB count 0 = Sunday (7 is
Sunday too), APScheduler's `day_of_week` counts 0 = Monday, and its `*/2` steps from Monday. So the
APScheduler trigger is never built from the raw text: croniter expands every field to explicit values and
the weekdays are handed over by name (`sun,tue`), which both engines read the same way.

A day-of-month and a day-of-week that are both restricted must both match (NCrontab's and APScheduler's
rule; classic cron would fire on either), so croniter is asked for the same with `day_or=False`.

Times are UTC, as on Azure Functions without WEBSITE_TIME_ZONE.

| setting | job | default |
|---|---|---|
| ROTATE_SCHEDULE | rotate: mint, stage, verify, promote due slots | `0 5 * * * *` (hourly at :05) |
| REVOKE_SCHEDULE | revoke: superseded past grace, expired, orphans | `0 35 * * * *` (hourly at :35) |
| AUDIT_SCHEDULE | audit: every app's tokens against the policies | `0 15 6 * * *` (daily at 06:15) |

`python -m rotation.hosting.schedules` prints the settings with their defaults (for app settings and Bicep).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Literal

from croniter import croniter

from rotation.errors import ConfigError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

JobName = Literal["rotate", "revoke", "audit"]


@dataclass(frozen=True)
class Schedule:
    job: JobName
    setting: str
    default: str
    why: str


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "rotate",
        "ROTATE_SCHEDULE",
        "0 5 * * * *",
        "hourly: a due slot is renewed within the hour, far inside its renew_at margin",
    ),
    Schedule(
        "revoke",
        "REVOKE_SCHEDULE",
        "0 35 * * * *",
        "hourly, half an hour after rotate: superseded tokens go within an hour of their grace end",
    ),
    Schedule(
        "audit",
        "AUDIT_SCHEDULE",
        "0 15 6 * * *",
        "daily before working hours in Europe: one report a day, alerts when people can act",
    ),
)
BY_JOB: dict[str, Schedule] = {s.job: s for s in SCHEDULES}
FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")
# What NCRONTAB accepts per field: numbers, `*`, ranges, lists, steps, and 3-letter names for months and
# weekdays; no L, W, # or ? (croniter alone would accept some of them).
_ATOM = re.compile(r"\*|[0-9]{1,2}")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# croniter.expand's order with second_at_beginning: minute, hour, day, month, day-of-week, then second.
_EXPANDED_ORDER = ("minute", "hour", "day", "month", "day_of_week", "second")


def validate(expression: str, setting: str = "schedule") -> str:
    """The expression, whitespace normalised, or a ConfigError saying got/expected."""
    fields = expression.split()
    expected = (
        f"expected a 6-field NCRONTAB expression (second minute hour day month day-of-week), "
        f"e.g. '{BY_JOB['rotate'].default}'"
    )
    if len(fields) != 6:
        raise ConfigError(f"{setting}: got {expression!r} ({len(fields)} fields), {expected}")
    names = {4: _MONTHS, 5: _WEEKDAYS}
    for index, value in enumerate(fields):
        for atom in re.split(r"[,/-]", value):
            if not (_ATOM.fullmatch(atom) or atom.lower() in names.get(index, ())):
                raise ConfigError(f"{setting}: got {expression!r} ({FIELDS[index]} {value!r}), {expected}")
    if not croniter.is_valid(" ".join(fields), second_at_beginning=True):
        raise ConfigError(f"{setting}: got {expression!r}, {expected}")
    return " ".join(fields)


def expressions(env: Mapping[str, str] | None = None) -> dict[JobName, str]:
    """The NCRONTAB expression of every job: the app setting when set, else the default; validated."""
    env = os.environ if env is None else env
    return {s.job: validate(env.get(s.setting) or s.default, s.setting) for s in SCHEDULES}


def app_settings() -> dict[str, str]:
    """The schedule app settings with their defaults (what Bicep and local.settings.json declare)."""
    return {s.setting: s.default for s in SCHEDULES}


def next_fire(expression: str, after_timestamp: float) -> float:
    """croniter's next fire time strictly after `after_timestamp` (UTC), with NCRONTAB's AND rule."""
    return float(croniter(expression, after_timestamp, second_at_beginning=True, day_or=False).get_next(float))


def expanded(expression: str) -> dict[str, list[int] | None]:
    """Each field's explicit values (None for every value), weekdays in cron numbering (0 = Sunday)."""
    values, nth = croniter.expand(validate(expression), second_at_beginning=True)
    if nth:
        raise ConfigError(f"schedule: got {expression!r}, expected no nth-weekday (#) field")
    out: dict[str, list[int] | None] = {}
    for name, field_values in zip(_EXPANDED_ORDER, values, strict=True):
        if field_values == ["*"]:
            out[name] = None
        else:
            ints = sorted({int(v) for v in field_values})
            out[name] = sorted({v % 7 for v in ints}) if name == "day_of_week" else ints
    return out


def trigger_fields(expression: str) -> dict[str, str]:
    """The keyword arguments of APScheduler's CronTrigger: explicit lists, weekdays by name."""
    fields = expanded(expression)
    kwargs: dict[str, str] = {}
    for name in FIELDS:
        values = fields[name]
        if values is None:
            kwargs[name] = "*"
        elif name == "day_of_week":
            kwargs[name] = ",".join(_WEEKDAYS[v] for v in values)
        else:
            kwargs[name] = ",".join(str(v) for v in values)
    return kwargs


def cron_trigger(expression: str, timezone: tzinfo = UTC) -> CronTrigger:
    """An APScheduler 3.11 CronTrigger that fires exactly when the NCRONTAB expression does."""
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415 -- not needed by the Function app

    return CronTrigger(timezone=timezone, **trigger_fields(expression))


def main() -> None:
    for schedule in SCHEDULES:
        print(f"{schedule.setting}={schedule.default}")  # noqa: T201 -- the module's command-line output


if __name__ == "__main__":
    main()
