"""The HTTP side every emulator shares: routing, the spec's error shape, faults, counters and observers
(the server that serves it, with keep-alive, is `emulators.core.server`).

Werkzeug does the HTTP parsing and routing; an emulator declares `Route`s and raises `HttpError`,
which it renders in its own service's error shape. Any unexpected exception also becomes that shape
with status 500: a client never sees a traceback page.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulators.core.clock import Clock
from emulators.core.faults import Fault, Faults, RequestCounters

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("emulators")

Handler = Callable[..., Response]
Observer = Callable[[str, str, Request, Response], None]
"""Called after every API response with (emulator name, route name, request, response), before it is sent."""
BeforeRequest = Callable[[str, str, Request], Response | None]
"""Called before every API request's handler (and its faults) with (emulator name, route name, request): a
response it returns (or an `HttpError` it raises) is the answer and the handler does not run. Tests use it
to act on exactly the k-th request across emulators (inject a fault, stop a client process)."""


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    handler: Handler


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, mimetype="application/json")


def read_json(request: Request) -> Any:
    """The request body as JSON, or a 400 in the emulator's error shape."""
    raw = request.get_data(cache=True)
    if not raw:
        raise HttpError(400, "BadRequest", "request body is empty, expected a JSON document")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, "BadRequest", f"request body is not valid JSON: {exc}") from None


class ConnectionCounter:
    """TCP connections the server accepted for this app: tests check that clients reuse them (keep-alive)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = 0

    def opened(self) -> None:
        with self._lock:
            self._opened += 1

    @property
    def count(self) -> int:
        with self._lock:
            return self._opened


class EmulatorApp:
    """A WSGI application made of `Route`s plus the shared `/_emulator/` admin routes."""

    name = "emulator"

    def __init__(self, *, clock: Clock | None = None, faults: Faults | None = None) -> None:
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.counters = RequestCounters()
        self.connections = ConnectionCounter()
        self.observers: list[Observer] = []
        self.before_request: list[BeforeRequest] = []
        self._handlers: dict[str, Handler] = {}
        rules: list[Rule] = []
        for route in [*self.routes(), *self._admin_routes(), *self.admin_routes()]:
            self._handlers[route.name] = route.handler
            rules.append(Rule(route.path, endpoint=route.name, methods=[route.method]))
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    # -- to override ---------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return []

    def admin_routes(self) -> list[Route]:
        return []

    def error_response(self, error: HttpError) -> Response:
        body = {"error": {"code": error.code, "message": error.message}}
        return json_response(body, error.status, error.headers)

    # -- shared admin routes (sandbox control; loopback only) --------------------------------------------
    def _admin_routes(self) -> list[Route]:
        return [
            Route("_emulator.counters", "GET", "/_emulator/counters", self._admin_counters),
            Route("_emulator.clock.get", "GET", "/_emulator/clock", self._admin_clock_get),
            Route("_emulator.clock.advance", "POST", "/_emulator/clock", self._admin_clock_advance),
            Route("_emulator.faults.add", "POST", "/_emulator/faults", self._admin_faults_add),
            Route("_emulator.faults.clear", "DELETE", "/_emulator/faults", self._admin_faults_clear),
        ]

    def _admin_counters(self, request: Request) -> Response:
        return json_response(self.counters.snapshot())

    def _admin_clock_get(self, request: Request) -> Response:
        return json_response({"now": self.clock.now().isoformat()})

    def _admin_clock_advance(self, request: Request) -> Response:
        body = read_json(request)
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or seconds < 0:
            raise HttpError(400, "BadRequest", f"advance_seconds: got {seconds!r}, expected a number >= 0")
        now = self.clock.advance(timedelta(seconds=seconds))
        return json_response({"now": now.isoformat()})

    def _admin_faults_add(self, request: Request) -> Response:
        body = read_json(request)
        try:
            fault = self.faults.add(Fault(**body))
        except (TypeError, ValueError) as exc:
            raise HttpError(400, "BadRequest", f"fault: {exc}") from None
        return json_response(asdict(fault))

    def _admin_faults_clear(self, request: Request) -> Response:
        self.faults.clear()
        return Response(status=204)

    # -- dispatch --------------------------------------------------------------------------------------
    def route_name(self, method: str, path: str) -> str | None:
        adapter = self._map.bind("emulator", path_info=path.split("?", 1)[0])
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            return None
        return str(endpoint)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        route = "unmatched"
        try:
            try:
                endpoint, args = self._map.bind_to_environ(environ).match()
            except NotFound:
                raise HttpError(404, "NotFound", f"no such resource: {request.method} {request.path}") from None
            except MethodNotAllowed as exc:
                allow = ", ".join(sorted(exc.valid_methods or ()))
                raise HttpError(
                    405,
                    "MethodNotAllowed",
                    f"method {request.method} is not allowed on {request.path}",
                    {"Allow": allow},
                ) from None
            route = str(endpoint)
            admin = route.startswith("_emulator")
            response = (
                None
                if admin
                else next(
                    (r for hook in list(self.before_request) if (r := hook(self.name, route, request)) is not None),
                    None,
                )
            )
            response = response or self._apply_faults(route) or self._handlers[route](request, **args)
        except HttpError as error:
            response = self.error_response(error)
        except Exception:
            log.exception("%s: unhandled error on %s %s", self.name, request.method, request.path)
            response = self.error_response(
                HttpError(500, "InternalServerError", "the emulator failed to handle the request")
            )
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        if response.status_code in (204, 304):  # no content: no Content-Type or Content-Length (RFC 9110 8.6)
            response.headers.remove("Content-Type")
            response.headers.remove("Content-Length")
        self.counters.record(route, response.status_code)
        if not route.startswith("_emulator"):
            for observer in self.observers:
                observer(self.name, route, request, response)
        return response(environ, start_response)

    def _apply_faults(self, route: str) -> Response | None:
        for fault in self.faults.take(route):
            if fault.kind == "latency":
                time.sleep(fault.latency)
            elif fault.kind == "throttle":
                return self.error_response(
                    HttpError(
                        429,
                        "TooManyRequests",
                        "rate limit exceeded (injected)",
                        {"Retry-After": str(fault.retry_after)},
                    )
                )
            elif fault.kind == "error":
                return self.error_response(
                    HttpError(
                        fault.status,
                        "ServiceUnavailable" if fault.status == 503 else "InternalServerError",
                        f"injected failure with status {fault.status}",
                    )
                )
            elif fault.kind == "redirect":
                return Response(b"", status=fault.status, headers={"Location": fault.location})
            elif fault.kind == "respond":
                return _respond(fault)
        return None

    def take_drop(self, method: str, path: str) -> bool:
        """Whether a `drop` fault fires for this request: the server then closes without answering."""
        route = self.route_name(method, path)
        if route is None:
            return False
        drops = self.faults.take_kind(route, "drop")
        if drops:
            self.counters.record(route, 0)
        return bool(drops)


class _ReadFirstResponse(Response):
    """Reads the request body before answering. Werkzeug drains an unread body after the answer, and that
    read blocks while the client still waits for the rest of a truncated answer (until its read timeout)."""

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        Request(environ).get_data()
        return super().__call__(environ, start_response)


def _respond(fault: Fault) -> Response:
    """The fault's answer as is; with `truncate`, a Content-Length larger than the body (the server then closes
    the connection after it, so the client sees the body end early)."""
    body = fault.body.encode() * fault.repeat
    response = _ReadFirstResponse(body, status=fault.status, content_type=fault.content_type)
    response.headers["Content-Length"] = str(len(body) + fault.truncate)
    return response
