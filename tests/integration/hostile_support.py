"""What the hostile-observation tests share: the sample world without the spec-conformance check (these
tests make the emulators answer what no spec allows, on purpose), and a foreign server on another origin
that records every request it receives, so that a test can prove that nothing (no bearer, no body, no
request at all) reached it.

The foreign server answers a request without credentials as a vault would (401 with a bearer challenge,
which tempts a client into sending its token), and anything else with `answer` (by default an empty
page: the most dangerous lie, since it says "nothing there").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from emulators.core import EmulatorApp, Route, serve
from emulators.sandbox import RunningWorld, running_world

METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE", "HEAD")


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ForeignServer(EmulatorApp):
    """Another origin: records everything, challenges the anonymous, tells everyone else `answer`."""

    name = "foreign"

    def __init__(self, challenge: str) -> None:
        self.challenge = challenge
        self.answer: Any = {"value": []}
        self.status = 200
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        super().__init__()

    def routes(self) -> list[Route]:
        return [Route(f"foreign.{m}", m, "/<path:rest>", self._any) for m in METHODS]

    def _any(self, request: Request, rest: str) -> Response:
        seen = Seen(request.method, "/" + rest, dict(request.headers), request.get_data())
        with self._lock:
            self._seen.append(seen)
        if "Authorization" not in request.headers:
            return Response(
                json.dumps({"error": {"code": "Unauthorized", "message": "no token"}}),
                status=401,
                mimetype="application/json",
                headers={"WWW-Authenticate": self.challenge},
            )
        return Response(json.dumps(self.answer), status=self.status, mimetype="application/json")

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)


@dataclass
class Hostile:
    running: RunningWorld
    foreign: ForeignServer
    foreign_url: str

    @property
    def ca_path(self) -> str:
        return str(self.running.ca.pem_path)


@contextmanager
def hostile_world(directory: Path, monkeypatch: pytest.MonkeyPatch, **world: Any) -> Iterator[Hostile]:
    """The seeded sample world (no conformance observers) plus a foreign HTTPS server of the same CA."""
    with ExitStack() as stack:
        running = stack.enter_context(running_world(directory, **world))
        monkeypatch.setenv("IDENTITY_ENDPOINT", running.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", running.world.identity.header_secret)
        foreign = ForeignServer(running.world.vault.access.challenge)
        url = stack.enter_context(serve(foreign, tls=running.ca.server_context()))
        yield Hostile(running, foreign, url)


def nothing_reached(foreign: ForeignServer) -> bool:
    """No request at all: so certainly no bearer and no body."""
    return foreign.seen == []
