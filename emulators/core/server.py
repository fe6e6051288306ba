"""The threaded server every emulator runs on 127.0.0.1:0 (HTTPS when given a TLS context), speaking
HTTP/1.1 with keep-alive as Azure's front ends do: a client's connection pool is exercised as in production
(Werkzeug's own handler closes every connection after one answer). TCP_NODELAY: a small answer is not held
back by Nagle's algorithm waiting for the client's delayed ACK.

Werkzeug still parses requests and builds the WSGI environ; this handler buffers the app's answer, gives it
a Content-Length, reads whatever is left of the request body (so the next request line is where the next
read starts) and keeps the connection open unless the client, a fault or a malformed request says otherwise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from emulators.core.http import EmulatorApp

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

log = logging.getLogger("emulators")

Answer = tuple[int, str, list[tuple[str, str]], bytes]


class _Server(ThreadedWSGIServer):
    """Keeps the open connections, so that stopping the server also closes idle keep-alive connections
    (a stopped emulator must look stopped to a pooled client, not answer on a connection kept alive)."""

    def __init__(self, host: str, port: int, app: WSGIApplication, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, app, handler=_RequestHandler, ssl_context=tls)
        self.open: set[socket.socket] = set()
        self.guard = threading.Lock()

    def close_connections(self) -> None:
        with self.guard:
            connections, self.open = list(self.open), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's request parsing with keep-alive answers, dropped-connection faults and JSON for malformed
    requests. `timeout`: an idle keep-alive connection is closed after it."""

    timeout = 30
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.guard:
            self.server.open.add(self.connection)
        if isinstance(self.server.app, EmulatorApp):
            self.server.app.connections.opened()

    def finish(self) -> None:
        with self.server.guard:
            self.server.open.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def run_wsgi(self) -> None:
        app = self.server.app
        if isinstance(app, EmulatorApp) and app.take_drop(self.command, self.path):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.environ = environ = self.make_environ()
        body = self._request_body(environ)
        answer = _call(app, environ)
        try:
            body.read()  # the rest of the request body, unread by the app: the next request starts after it
        except (OSError, ValueError):
            self.close_connection = True
        self._send(environ, *answer)

    def _request_body(self, environ: WSGIEnvironment) -> Any:
        """The body as a stream that ends where the request ends (Content-Length, or the chunked body)."""
        if environ.get("wsgi.input_terminated"):
            return environ["wsgi.input"]  # Werkzeug's dechunking stream: ends at the last chunk
        try:
            length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
        except ValueError:
            length, self.close_connection = 0, True
        stream = LimitedStream(environ["wsgi.input"], length)
        environ["wsgi.input"], environ["wsgi.input_terminated"] = stream, True
        return stream

    def _send(
        self, environ: WSGIEnvironment, code: int, reason: str, headers: list[tuple[str, str]], data: bytes
    ) -> None:
        bodiless = environ["REQUEST_METHOD"] == "HEAD" or 100 <= code < 200 or code in (204, 304)
        declared = next((v for k, v in headers if k.lower() == "content-length"), None)
        self.send_response(code, reason)
        for key, value in headers:
            self.send_header(key, value)
        if declared is None and not bodiless:
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection or (declared is not None and not bodiless and declared != str(len(data))):
            self.send_header("Connection", "close")  # a truncated answer (fault) ends with the connection
        self.end_headers()
        if not bodiless:
            self.wfile.write(data)
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        body = json.dumps({"error": {"code": "BadRequest", "message": message or "malformed request"}})
        data = body.encode()
        with contextlib.suppress(OSError):
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-ms-error-code", "BadRequest")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 -- stdlib signature
        log.debug("emulator server: " + format, *args)  # noqa: G003


def _call(app: WSGIApplication, environ: WSGIEnvironment) -> Answer:
    """The app's whole answer (emulator answers are small); a failing app answers 500 in JSON."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [(status, list(headers))]
        return chunks.append

    try:
        result: Iterable[bytes] = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started[0]
    except Exception:
        log.exception("emulator server: the app failed")
        data = json.dumps({"error": {"code": "InternalServerError", "message": "the emulator failed"}}).encode()
        return 500, "Internal Server Error", [("Content-Type", "application/json")], data
    code, _, reason = status.partition(" ")
    return int(code), reason, headers, b"".join(chunks)


@contextlib.contextmanager
def serve(
    app: EmulatorApp, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve `app` in a background thread; yields the base URL (no trailing slash)."""
    server = _Server(host, port, app, tls)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{app.name}-server", daemon=True
    )
    thread.start()
    scheme = "https" if tls is not None else "http"
    try:
        yield f"{scheme}://{host}:{server.port}"
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
