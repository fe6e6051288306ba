"""Sees every API request of a world's emulators in arrival order and acts on exactly the k-th one.

`RequestTap` hangs on the emulators' `before_request` hooks (before the handler runs) and `observers`
(after the handler produced its answer, before it is sent), numbers the requests of all emulators
together (identity endpoint included) and, at the armed index, injects one fault:

- throttle: 429 with `Retry-After: 0`, in the emulator's own error shape; error-500, error-503 likewise;
- timeout: the server holds the request until the client gives up (it closes the connection) or
  `LATENCY` passed, then applies it anyway, as a slow server does; whether the client gave up is recorded;
- drop-before / drop-after: the connection is closed before the server applied the request, or after it
  applied it (the answer is lost);
- crash-before / crash-after: the client process (a forked CLI, `set_pid`) is SIGKILLed before the
  handler runs (nothing applied) or after it applied the request (its answer is never read).

`DeleteGuard` checks invariant (c) at every token deletion the IoT Central emulator receives, against the
vault's state at that moment.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from emulators.core import EmulatorApp, HttpError
from emulators.keyvault.store import SecretVersion
from emulators.sandbox import SandboxWorld
from tests.reliability.world import HTTP_TIMEOUT

FAULTS = ("throttle", "error-500", "error-503", "timeout", "drop-before", "drop-after", "crash-before", "crash-after")
CRASHES = ("crash-before", "crash-after")
LATENCY = 1.5  # seconds a "timeout" request is held at most: 3x the client read timeout of the runs
WAIT = 60.0  # seconds: only a bound on a wait that a hung run would otherwise never leave


class Call(NamedTuple):
    emulator: str
    route: str
    method: str

    def label(self) -> str:
        return f"{self.emulator}.{self.route}.{self.method}"


@dataclass
class Injection:
    index: int
    fault: str
    expected: Call
    seen: Call | None = None
    client_gave_up: bool | None = None
    killed: bool | None = None

    def problems(self) -> list[str]:
        """Why the fault was not injected as intended (a harness problem, or a timeout not honoured)."""
        where = f"request {self.index} ({self.expected.label()})"
        if self.seen is None:
            return [f"injection: the run never made {where}, expected the clean run's order"]
        if self.seen != self.expected:
            return [
                (
                    f"injection: got {self.seen.label()} at request {self.index}, expected "
                    f"{self.expected.label()} as in the clean run (request order differs)"
                )
            ]
        if self.fault in CRASHES and not self.killed:
            return [f"{self.fault} at {where}: no client process to kill (no pid registered)"]
        if self.fault == "timeout" and not self.client_gave_up:
            return [
                (
                    f"timeout at {where}: the client waited {LATENCY:g} s without giving up, expected it to "
                    f"give up after its read timeout (ROTATION_HTTP_TIMEOUT={HTTP_TIMEOUT:g})"
                )
            ]
        return []


def _dropped() -> Iterator[bytes]:
    """An answer that is never sent: werkzeug treats the error as a connection the peer dropped."""
    raise ConnectionResetError("connection dropped (injected)")
    yield b""  # pragma: no cover -- makes this a generator


def _shut(request: Request) -> None:
    """Close the request's connection under the server's feet: the client sees it dropped."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _drop(request: Request) -> Response:
    _shut(request)
    return Response(_dropped(), status=503)


def _no_delay(request: Request) -> None:
    """TCP_NODELAY on the server's side: werkzeug writes an answer's head and body separately, and Nagle's
    algorithm then holds the body back until the client's (delayed) ACK, ~12 ms per request on loopback;
    the matrix makes thousands of requests. Only latency changes, never what is sent."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _client_gives_up(request: Request) -> bool:
    """Waits (at most LATENCY) for the client to close its connection; the request was read in full first,
    so the socket only becomes readable when the client hangs up."""
    request.get_data(cache=True)
    sock = request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return False
    readable, _, _ = select.select([sock], [], [], LATENCY)
    return bool(readable)


@dataclass
class DeleteGuard:
    """Invariant (c): no token deleted while it is a slot's current token or a superseded one in grace: a
    `previous` version within superseded-at + grace, or an older version still tagged current (an
    interrupted promotion) within the newer current version's creation + grace (docs/protocol.md)."""

    sandbox: SandboxWorld
    secrets: dict[str, str]  # slot -> secret name
    grace: timedelta
    violations: list[str] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)

    def __call__(self, name: str, route: str, request: Request) -> None:
        if name != "iotcentral" or route != "ApiTokens_Remove":
            return
        token_id = unquote(request.path.rstrip("/").rsplit("/", 1)[-1])
        self.deletions.append(token_id)
        now = self.sandbox.clock.now()
        for slot, secret in self.secrets.items():
            self._check(slot, self.sandbox.vault.versions(secret), token_id, now)

    def _check(self, slot: str, versions: Sequence[SecretVersion], token_id: str, now: datetime) -> None:
        current = newest_current(versions)
        for version in versions:
            if version.tags.get("token-id") != token_id:
                continue
            stage = version.tags.get("stage")
            if version is current:
                self.violations.append(
                    f"(c) DELETE {token_id}: it was the current token of slot {slot} "
                    f"(version {version.version[:8]}), expected only superseded tokens deleted"
                )
            elif stage == "current" and version.enabled and current is not None:
                # an interrupted promotion's leftover: superseded when the newer current one was created
                self._in_grace(token_id, current.created_on, now, f"still tagged current in slot {slot}")
            elif stage == "previous":
                superseded = _parse(version.tags.get("superseded-at"))
                if superseded is None:
                    self.violations.append(
                        f"(c) DELETE {token_id}: previous version {version.version[:8]} of slot "
                        f"{slot} has no valid superseded-at, expected proof its grace is over"
                    )
                else:
                    self._in_grace(token_id, superseded, now, f"slot {slot}")

    def _in_grace(self, token_id: str, superseded: datetime, now: datetime, where: str) -> None:
        if superseded + self.grace > now:
            self.violations.append(
                f"(c) DELETE {token_id} at {now:%Y-%m-%d %H:%M:%S}: in grace until "
                f"{superseded + self.grace:%Y-%m-%d %H:%M:%S} ({where}), expected no "
                "deletion before superseded-at + grace"
            )


def newest_current(versions: Sequence[SecretVersion]) -> SecretVersion | None:
    """The newest enabled version tagged current, in the vault's true creation order."""
    return next((v for v in reversed(versions) if v.enabled and v.tags.get("stage") == "current"), None)


def _parse(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


class RequestTap:
    """Numbers the API requests of some emulators together and injects one armed fault."""

    def __init__(self, emulators: Sequence[EmulatorApp], guard: DeleteGuard | None = None) -> None:
        self._lock = threading.Condition()
        self.calls: list[Call] = []
        self.injection: Injection | None = None
        self._in_flight = 0
        self._pid: int | None = None
        self._pid_known = threading.Event()
        self._guard = guard
        for emulator in emulators:
            emulator.before_request.append(self._before)
            emulator.observers.append(self._after)

    def arm(self, injection: Injection | None) -> None:
        """Start numbering from 1 again, with this fault (or none) at its index."""
        with self._lock:
            self.calls = []
            self.injection = injection
            self._pid = None
            self._pid_known.clear()

    def disarm(self) -> None:
        """No fault any more (the calls seen so far stay readable)."""
        with self._lock:
            self.injection = None

    def set_pid(self, pid: int) -> None:
        self._pid = pid
        self._pid_known.set()

    def _kill(self, injection: Injection) -> None:
        """SIGKILL the client process (the pid arrives from the fork server as the run starts)."""
        injection.killed = False
        if self._pid_known.wait(WAIT) and self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            injection.killed = True

    def _before(self, name: str, route: str, request: Request) -> Response | None:
        _no_delay(request)
        call = Call(name, route, request.method)
        with self._lock:
            self.calls.append(call)
            index = len(self.calls)
            self._in_flight += 1
            injection = self.injection if self.injection is not None and self.injection.index == index else None
        request.environ["reliability.index"] = index
        if self._guard is not None:
            self._guard(name, route, request)
        if injection is None:
            return None
        injection.seen = call
        return self._inject(injection, request)

    def _inject(self, injection: Injection, request: Request) -> Response | None:
        fault = injection.fault
        if fault == "throttle":
            raise HttpError(429, "TooManyRequests", "rate limit exceeded (injected)", {"Retry-After": "0"})
        if fault in ("error-500", "error-503"):
            status = int(fault.rsplit("-", 1)[1])
            raise HttpError(
                status,
                "ServiceUnavailable" if status == 503 else "InternalServerError",
                f"injected failure with status {status}",
            )
        if fault == "timeout":
            injection.client_gave_up = _client_gives_up(request)
            return None  # applied late, after the client gave up
        if fault == "crash-before":
            self._kill(injection)
            return _drop(request)
        if fault == "drop-before":
            return _drop(request)
        return None  # drop-after and crash-after act in _after

    def _after(self, name: str, route: str, request: Request, response: Response) -> None:
        index = request.environ.get("reliability.index")
        injection = self.injection
        try:
            if injection is not None and injection.index == index and injection.fault == "crash-after":
                self._kill(injection)
            elif injection is not None and injection.index == index and injection.fault == "drop-after":
                _shut(request)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def wait_idle(self) -> bool:
        """Waits until no request is being handled (a held "timeout" request has been applied)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout=WAIT)
