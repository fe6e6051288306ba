"""IoT Central's per-application request quota (documented: 20 API requests per second, across every
API token and bearer token of the application), as a sliding one-second window.

The window runs on real monotonic time, not on the emulated clock: jumping the clock by days must not
refill or drain anybody's quota. The time source is injectable so that tests are exact.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, *, window: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._monotonic = monotonic
        self._accepted: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, limit: int | None) -> int | None:
        """None when the request may proceed (and is counted); else the seconds to wait (Retry-After).

        Only accepted requests fill the window, so a client that backs off as told gets through.
        """
        if limit is None:
            return None
        if limit < 1:
            return max(1, math.ceil(self.window))
        now = self._monotonic()
        with self._lock:
            while self._accepted and self._accepted[0] <= now - self.window:
                self._accepted.popleft()
            if len(self._accepted) < limit:
                self._accepted.append(now)
                return None
            oldest = self._accepted[len(self._accepted) - limit]
            return max(1, math.ceil(oldest + self.window - now))
