"""Fault injection and request counting, the knobs every emulator shares.

A `Fault` applies to requests of one route (the route's name, e.g. ``apiTokens.create``) or of every
route, for a number of requests (`times`) or for ever, and optionally only with a probability drawn
from a seeded generator so that runs are repeatable. Counters are per route and per status; the
benchmarks and tests read them to prove how many calls a job made.

Kinds: `latency` (sleep, then answer normally), `throttle` (429 with Retry-After), `error` (a status in
the service's error shape), `drop` (close without answering), `redirect` (a 3xx `status` with `Location:
location`, which a client must not follow) and `respond` (this `status`, `content_type` and `body`; set
`status`, whose default 503 is the error kind's). A `respond` body is sent `repeat` times (a huge answer
without a huge fault) and, with `truncate`, under a Content-Length that many bytes larger than what is
sent before the connection closes (a truncated answer). The last two let a test play a hostile or broken
server: an HTML 200, mistyped items, a nextLink to another host.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["latency", "throttle", "error", "drop", "redirect", "respond"]
KINDS: tuple[str, ...] = ("latency", "throttle", "error", "drop", "redirect", "respond")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class Fault:
    kind: FaultKind
    route: str | None = None
    times: int | None = None
    probability: float = 1.0
    latency: float = 0.0
    status: int = 503
    retry_after: int = 1
    location: str = ""
    content_type: str = "application/json"
    body: str = ""
    repeat: int = 1
    truncate: int = 0

    def matches(self, route: str) -> bool:
        return self.route is None or self.route == route


@dataclass
class Faults:
    """The active faults of one emulator; thread-safe."""

    seed: int = 0
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 -- repeatable fault draws, not cryptography

    def add(self, fault: Fault) -> Fault:
        if fault.kind not in KINDS:
            raise ValueError(f"fault kind: got {fault.kind!r}, expected one of {', '.join(KINDS)}")
        if not 0.0 <= fault.probability <= 1.0:
            raise ValueError(f"fault probability: got {fault.probability}, expected a value in [0, 1]")
        if fault.kind == "redirect" and (fault.status not in REDIRECT_STATUSES or not fault.location):
            raise ValueError(
                f"redirect fault: got status {fault.status} and location {fault.location!r}, "
                "expected a status of 301, 302, 303, 307 or 308 and a location"
            )
        if fault.kind == "respond" and not (200 <= fault.status <= 599 and fault.repeat >= 1 and fault.truncate >= 0):
            raise ValueError(
                f"respond fault: got status {fault.status}, repeat {fault.repeat}, truncate "
                f"{fault.truncate}, expected a status of 200-599, repeat >= 1 and truncate >= 0"
            )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, route: str) -> list[Fault]:
        """The in-band faults (all but `drop`) that fire for this request, consuming one use of each."""
        return self._take(route, lambda kind: kind != "drop")

    def take_kind(self, route: str, kind: FaultKind) -> list[Fault]:
        return self._take(route, lambda k: k == kind)

    def _take(self, route: str, wanted: Callable[[str], bool]) -> list[Fault]:
        fired: list[Fault] = []
        answered = False  # one request gets at most one injected answer; later ones wait their turn
        with self._lock:
            for fault in list(self._faults):
                if not wanted(fault.kind) or not fault.matches(route):
                    continue
                if fault.kind != "latency" and answered:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fired.append(fault)
                answered = answered or fault.kind != "latency"
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
        return fired


class RequestCounters:
    """How many requests each route received, and with which status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[tuple[str, int]] = Counter()

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self._by_route[route] += 1
            self._by_status[(route, status)] += 1

    def get(self, route: str, status: int | None = None) -> int:
        with self._lock:
            if status is None:
                return self._by_route[route]
            return self._by_status[(route, status)]

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (route, status), n in sorted(self._by_status.items()):
                out.setdefault(route, {})[str(status)] = n
            return out

    def total(self) -> int:
        with self._lock:
            return sum(self._by_route.values())

    def reset(self) -> None:
        with self._lock:
            self._by_route.clear()
            self._by_status.clear()
