"""iottly, verify-only: its keys can only be made in its web UI, so the service imports them into Key
Vault, checks them with `GET /v1.0/project/ping` and audits their age. The header is
`Authentication: bearer <key>`, exactly as the iottly docs specify (not `Authorization`).

Only a JSON `{"status": "pong"}` means accepted and only a 401 means refused: any other answer (an HTML
200, a redirect, a mistyped body) is a `ServiceError`, never a verdict on the key."""

from __future__ import annotations

from typing import Literal

import httpx

from rotation.adapters.http import RetryPolicy, check_base_url, check_client, send
from rotation.adapters.origin import Origin
from rotation.adapters.wire import Wire, parse
from rotation.domain.secret import Secret
from rotation.errors import AuthError

PING_PATH = "/v1.0/project/ping"


class WirePong(Wire):
    """The answer to an accepted key."""

    status: Literal["pong"]


class IottlyClient:
    def __init__(self, base_url: str, http: httpx.Client, retry: RetryPolicy | None = None) -> None:
        self.base_url = check_base_url(base_url, "iottly base URL")
        self._http = check_client(http)
        self._retry = retry or RetryPolicy()
        self._origin = Origin.of(self.base_url)

    def ping(self, key: Secret) -> bool:
        url = self.base_url + PING_PATH
        what = f"iottly ping {self.base_url}"
        try:
            answer = send(
                self._http,
                lambda: self._http.build_request("GET", url, headers={"Authentication": f"bearer {key.reveal()}"}),
                what,
                self._retry,
                origin=self._origin,
            )
        except AuthError as exc:
            if exc.status == 401:
                return False
            raise
        parse(WirePong, answer.body, answer.content_type, what)
        return True
