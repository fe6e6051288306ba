"""Same origin everywhere: a client talks only to the scheme, host and port of the URL it was built for.

A `nextLink`, a redirect or a retried request that points elsewhere would hand our bearer (or, for a
SetSecret, a token value) to another server, and that server's answer (say, an empty page) would be
believed. So every request is checked before it is sent: `Origin.check` for the httpx clients, and
`SameOriginPolicy` in the Azure SDK pipelines. The policy sits after the retry and redirect policies (it
sees every attempt, with its final URL) and before the authentication policy (a refused request never
gets a bearer, and is never sent: nothing reaches the other server).

Origins compare as RFC 6454 says: scheme and host case-insensitively, an absent port equal to the
scheme's default (`https://h` is `https://h:443`). A URL with user info is refused outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from rotation.errors import ForeignOriginError

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an absolute http(s) URL; `ForeignOriginError` for anything else (no origin to trust)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ForeignOriginError(f"got a malformed URL {_shown(url)}, expected an absolute http(s) URL") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ForeignOriginError(f"got URL {_shown(url)}, expected an absolute http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise ForeignOriginError(f"got a URL with user info for host {parts.hostname!r}, expected none")
        return cls(scheme, parts.hostname.lower().rstrip("."), port if port is not None else DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def check(self, url: str, what: str) -> str:
        """`url` when it has this origin, else `ForeignOriginError` (the request must not be sent)."""
        other = Origin.of(url)
        if other != self:
            raise ForeignOriginError(f"{what}: got a request to {other}, expected only {self} (refused, not sent)")
        return url


def same_origin(a: str, b: str) -> bool:
    try:
        return Origin.of(a) == Origin.of(b)
    except ForeignOriginError:
        return False


def _shown(url: str) -> str:
    """Scheme and host of a URL for a message: never its path or query (a SAS signature lives there)."""
    try:
        parts = urlsplit(url)
        return repr(f"{parts.scheme}://{parts.hostname or ''}")
    except ValueError:
        return "(unparsable)"


class SameOriginPolicy(SansIOHTTPPolicy[Any, Any]):
    """Refuses (raises `ForeignOriginError`, outside azure-core's retry) any request to another origin.

    Key Vault: a per-retry policy (azure-core puts those right after `RetryPolicy`, before the challenge
    authentication policy). Storage clients take no per-retry policies; they are given the policy as their
    `raw_request_hook`, which `StorageRequestHook` calls at the same place: after the retry policy, before
    the credential policy (a per-operation `raw_request_hook` would replace it: the service passes none).

    A client made from a connection string learns its URL only once built: such a policy is made with
    `url=None` and `bind`-ed to the client's URL; until then it refuses everything."""

    def __init__(self, url: str | None, what: str) -> None:
        super().__init__()
        self.origin = Origin.of(url) if url is not None else None
        self.what = what

    def bind(self, url: str) -> None:
        if self.origin is None:
            self.origin = Origin.of(url)

    def on_request(self, request: PipelineRequest[Any]) -> None:
        if self.origin is None:
            raise ForeignOriginError(
                f"{self.what}: got a request before the client's origin was known, expected none (refused, not sent)"
            )
        self.origin.check(request.http_request.url, self.what)

    def __call__(self, request: PipelineRequest[Any]) -> None:
        self.on_request(request)
