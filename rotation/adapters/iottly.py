"""iottly, verify-only: its keys can only be made in its web UI, so the service imports them into Key
Vault, checks them with `GET /v1.0/project/ping` and audits their age. The header is
`Authentication: bearer <key>`, exactly as the iottly docs specify (not `Authorization`)."""

from __future__ import annotations

import httpx

from rotation.adapters.http import RetryPolicy, check_base_url, send
from rotation.errors import AuthError
from rotation.secret import Secret

PING_PATH = "/v1.0/project/ping"


class IottlyClient:
    def __init__(self, base_url: str, http: httpx.Client, retry: RetryPolicy | None = None) -> None:
        self.base_url = check_base_url(base_url, "iottly base URL")
        self._http = http
        self._retry = retry or RetryPolicy()

    def ping(self, key: Secret) -> bool:
        url = self.base_url + PING_PATH
        try:
            response = send(self._http, lambda: self._http.get(
                url, headers={"Authentication": f"bearer {key.reveal()}"}), f"iottly ping {self.base_url}",
                self._retry)
        except AuthError as exc:
            if exc.status == 401:
                return False
            raise
        body = response.json()
        return isinstance(body, dict) and body.get("status") == "pong"
