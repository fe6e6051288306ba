"""Building blocks shared by every emulator: clock, faults, counters, TLS, JWTs and the HTTP server."""

from emulators.core.clock import Clock
from emulators.core.faults import Fault, Faults, RequestCounters
from emulators.core.http import EmulatorApp, HttpError, Route
from emulators.core.jwt_authority import Claims, SandboxAuthority
from emulators.core.server import serve
from emulators.core.tls import SandboxCA

__all__ = [
    "Claims",
    "Clock",
    "EmulatorApp",
    "Fault",
    "Faults",
    "HttpError",
    "RequestCounters",
    "Route",
    "SandboxAuthority",
    "SandboxCA",
    "serve",
]
