"""The shared clock and generator copies of the in-memory ports (`rotation.engine.memory`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta


class ManualClock:
    """Time that moves only when told to: runs see one instant; rules between runs move it forward."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"clock start: got {start!r}, expected a timezone-aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"clock advance: got {delta}, expected a non-negative duration")
        self._now += delta
        return self._now

    def copy(self) -> ManualClock:
        return ManualClock(self._now)


def rng_copy(rng: random.Random) -> random.Random:
    """An independent generator in the same state (a `SystemRandom` has no state: a fresh one will do)."""
    if isinstance(rng, random.SystemRandom):
        return random.SystemRandom()
    twin = random.Random()  # noqa: S311 -- test/simulator values, not credentials of a real service
    twin.setstate(rng.getstate())
    return twin
