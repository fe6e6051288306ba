"""One schedule source: NCRONTAB validation, and APScheduler triggers that fire exactly when croniter says
the NCRONTAB expression fires (property-tested), weekday numbering included."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from rotation.errors import ConfigError
from rotation.hosting import schedules

WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTH_NAMES = ("", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    def value(n: int, use_name: bool) -> str:
        return names[n] if use_name and names and names[n] else str(n)

    number = st.tuples(st.integers(low, high), st.booleans()).map(lambda t: value(*t))
    span = st.tuples(st.integers(low, high), st.integers(low, high), st.booleans()).map(
        lambda t: f"{value(min(t[0], t[1]), t[2])}-{value(max(t[0], t[1]), t[2])}"
    )
    step = st.integers(1, max(1, high - low)).map(lambda k: f"*/{k}")
    span_step = st.tuples(st.integers(low, high), st.integers(low, high), st.integers(1, 5)).map(
        lambda t: f"{min(t[0], t[1])}-{max(t[0], t[1])}/{t[2]}"
    )
    atom = st.one_of(number, span, step, span_step)
    listed = st.lists(st.one_of(number, span), min_size=2, max_size=4).map(",".join)
    return st.one_of(st.just("*"), atom, listed)


# Days of month up to 28 so that every expression fires in every month it names.
EXPRESSIONS = st.tuples(
    _field(0, 59), _field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12, MONTH_NAMES), _field(0, 7, WEEKDAY_NAMES)
).map(" ".join)
STARTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 -- hypothesis wants naive bounds, timezones= adds UTC
    max_value=datetime(2090, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=0))


def _apscheduler_fires(trigger: CronTrigger, start: datetime, count: int) -> list[datetime]:
    fires: list[datetime] = []
    previous = None
    now = start + timedelta(microseconds=1)  # croniter's next is strictly after start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        fires.append(fire.astimezone(UTC))
        previous, now = fire, fire + timedelta(microseconds=1)
    return fires


def _croniter_fires(expression: str, start: datetime, count: int) -> list[datetime]:
    fires: list[datetime] = []
    current = start.timestamp()
    for _ in range(count):
        current = schedules.next_fire(expression, current)
        fires.append(datetime.fromtimestamp(current, UTC))
    return fires


@settings(max_examples=300, deadline=None)
@given(expression=EXPRESSIONS, start=STARTS)
def test_apscheduler_trigger_fires_when_croniter_says_the_ncrontab_fires(expression: str, start: datetime) -> None:
    assert schedules.validate(expression) == expression
    trigger = schedules.cron_trigger(expression)
    assert _apscheduler_fires(trigger, start, 4) == _croniter_fires(expression, start, 4)


@settings(max_examples=100, deadline=None)
@given(day=st.integers(0, 7), start=STARTS)
def test_a_weekday_number_means_the_same_day_in_both_engines(day: int, start: datetime) -> None:
    expression = f"0 0 12 * * {day}"
    fire = _apscheduler_fires(schedules.cron_trigger(expression), start, 1)[0]
    assert fire.isoweekday() % 7 == day % 7  # cron: 0 and 7 are Sunday; isoweekday: Sunday is 7
    assert fire == _croniter_fires(expression, start, 1)[0]


def test_weekday_ranges_and_steps_are_not_handed_over_as_numbers() -> None:
    saturday = datetime(2024, 1, 6, 10, tzinfo=UTC)
    workdays = schedules.cron_trigger("0 0 9 * * 1-5")
    assert workdays.get_next_fire_time(None, saturday) == datetime(2024, 1, 8, 9, tzinfo=UTC)  # Monday
    naive = CronTrigger(second=0, minute=0, hour=9, day_of_week="1-5", timezone=UTC)  # APScheduler: 0 = Monday
    assert naive.get_next_fire_time(None, saturday) == datetime(2024, 1, 9, 9, tzinfo=UTC)  # Tuesday: wrong
    assert schedules.trigger_fields("0 0 9 * * */2")["day_of_week"] == "sun,tue,thu,sat"
    assert schedules.trigger_fields("0 0 9 * * sun-tue")["day_of_week"] == "sun,mon,tue"


def test_day_of_month_and_weekday_must_both_match_as_in_ncrontab() -> None:
    first_monday = schedules.cron_trigger("0 0 8 1-7 * mon")
    assert first_monday.get_next_fire_time(None, datetime(2024, 1, 2, tzinfo=UTC)) == datetime(
        2024, 2, 5, 8, tzinfo=UTC
    )
    assert datetime.fromtimestamp(
        schedules.next_fire("0 0 8 1-7 * mon", datetime(2024, 1, 2, tzinfo=UTC).timestamp()), UTC
    ) == datetime(2024, 2, 5, 8, tzinfo=UTC)


def test_defaults_apply_and_app_settings_override() -> None:
    assert schedules.expressions({}) == {"rotate": "0 5 * * * *", "revoke": "0 35 * * * *", "audit": "0 15 6 * * *"}
    assert schedules.expressions({"AUDIT_SCHEDULE": "*/5  * * * * *"})["audit"] == "*/5 * * * * *"
    assert schedules.app_settings() == {
        "ROTATE_SCHEDULE": "0 5 * * * *",
        "REVOKE_SCHEDULE": "0 35 * * * *",
        "AUDIT_SCHEDULE": "0 15 6 * * *",
    }


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("5 * * * *", "(5 fields)"),
        ("0 0 0 L * *", "(day 'L')"),
        ("0 0 0 * * 1#2", "(day_of_week '1#2')"),
        ("0 0 0 ? * *", "(day '?')"),
        ("0 0 0 * * monday", "(day_of_week 'monday')"),
        ("0 61 * * * *", "got '0 61 * * * *', expected"),
        ("0 0 25 * * *", "got '0 0 25 * * *', expected"),
    ],
)
def test_invalid_schedules_name_the_setting_and_what_was_expected(value: str, detail: str) -> None:
    with pytest.raises(ConfigError) as raised:
        schedules.expressions({"REVOKE_SCHEDULE": value})
    message = str(raised.value)
    assert message.startswith("REVOKE_SCHEDULE: got ")
    assert detail in message
    assert "expected a 6-field NCRONTAB expression" in message


def test_module_prints_the_app_settings_with_defaults() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rotation.hosting.schedules"], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == [
        "ROTATE_SCHEDULE=0 5 * * * *",
        "REVOKE_SCHEDULE=0 35 * * * *",
        "AUDIT_SCHEDULE=0 15 6 * * *",
    ]
