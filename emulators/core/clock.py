"""A controllable clock shared by the emulators of one world (and, in the sandbox, by the service).

Time is real time plus an offset, so that propagation delays still elapse on their own while tests and
the sandbox can jump days ahead (`advance`) without sleeping. `freeze` pins it for exact assertions.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, *, offset: timedelta = timedelta(0), frozen_at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = offset
        self._frozen_at = frozen_at

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"clock can only move forward: got {delta}, expected a non-negative duration")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta
        return self.now()

    def seconds(self) -> float:
        """The emulated time as a number of seconds: a `clock` for code that measures durations."""
        return self.now().timestamp()

    def sleep(self, seconds: float) -> None:
        """An emulated sleep: the clock jumps ahead at once, so a test waits for nothing real."""
        self.advance(timedelta(seconds=seconds))

    def freeze(self, at: datetime | None = None) -> datetime:
        when = at or self.now()
        if when.tzinfo is None:
            raise ValueError(f"clock needs an aware datetime: got {when!r}, expected tzinfo=UTC")
        with self._lock:
            self._frozen_at = when.astimezone(UTC)
        return when

    def unfreeze(self) -> None:
        """Resume real time from the frozen instant (the offset keeps the jump)."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    @property
    def offset(self) -> timedelta:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at - datetime.now(UTC)
            return self._offset
