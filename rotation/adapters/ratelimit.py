"""A client-side sliding window: at most `limit` requests per `window` seconds per key, shared by the
threads of one process. It exists so that the service stays under a server's documented throttling limits
(IoT Central per application, Key Vault per vault) instead of learning them from 429s.

Each caller reserves its own slot under the lock, then sleeps outside it for exactly the time until that
slot: no polling, and callers waiting on one key are served in the order they arrived (FIFO), each at a
distinct future slot, while callers of other keys are not held up. The slots of one key never decrease,
and any `limit + 1` consecutive slots span at least `window` seconds, which is the sliding-window bound:
only the last `limit` slots of a key are kept (a bounded deque), as nothing older can matter.

The clock and the sleep are injected (tests move a fake clock and record each sleep); the defaults are
`time.monotonic` and `time.sleep` (which, on Python 3.11, sleeps at least the time asked on that clock).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """`limit` requests per `window` seconds per key; `acquire` waits for the caller's slot."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit: got {limit} per {window} s, expected at least 1 per a positive window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, deque[float]] = {}

    def reserve(self, key: str) -> float:
        """Reserve the caller's slot and return the wait until it. The slot is the earliest instant, no
        earlier than now nor than the slot reserved before it, at which the key's `limit`-th latest slot
        has left the window."""
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(key, deque(maxlen=self.limit))
            slot = max(now, slots[-1]) if slots else now
            if len(slots) == self.limit:
                slot = max(slot, slots[0] + self.window)
            slots.append(slot)
            return slot - now

    def acquire(self, key: str) -> float:
        """Reserve a slot, then sleep (outside the lock) until it; returns the wait, 0.0 when none."""
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait
