"""The iottly cloud API, as far as the rotation service needs it: API keys that belong to projects, and
the authenticated `GET /v1.0/project/ping` that tells whether a key still works.

iottly keys can only be made and deleted in its web UI, so the service only verifies and audits them.
The admin helpers here (`add_project`, `add_key`, `remove_key`, `keys`, and the same under
`/_emulator/`) stand in for that UI: the key's value is shown once, when it is made, and never listed
again; the emulator keeps only a digest of it, as a real service would.

The wire details follow iottly's developer docs: the key travels in an ``Authentication: bearer <KEY>``
header (``Authentication``, not ``Authorization``), every API answers 401 without a valid key, and errors
carry a human-readable ``error`` field.

Run alone: ``python -m emulators.iottly`` prints the base URL, the CA bundle to trust and a demo key.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from werkzeug.wrappers import Request, Response

from emulators.core import Clock, EmulatorApp, Faults, HttpError, Route, SandboxCA, serve
from emulators.core.http import json_response, read_json
from emulators.core.runner import run_until_signalled

AUTH_HEADER = "Authentication"
PING_PATH = "/v1.0/project/ping"


class UnknownProjectError(LookupError):
    """The admin helper was given a project that `add_project` never made."""


class UnknownKeyError(LookupError):
    """The admin helper was given a key id that the project does not have (or no longer has)."""


@dataclass(frozen=True)
class IottlyKeyInfo:
    """What the "Manage API keys" panel lists: never the key's value."""

    id: str
    project: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class IottlyKey(IottlyKeyInfo):
    """A key as the UI shows it right after "Create new API key": the only time its value is visible."""

    value: str = field(repr=False)

    @property
    def info(self) -> IottlyKeyInfo:
        return IottlyKeyInfo(self.id, self.project, self.description, self.created_at)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class IottlyEmulator(EmulatorApp):
    name = "iottly"

    def __init__(self, *, clock: Clock | None = None, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._projects: dict[str, dict[str, IottlyKeyInfo]] = {}
        self._by_digest: dict[str, IottlyKeyInfo] = {}
        super().__init__(clock=clock, faults=faults)

    # -- the web UI's "Manage API keys" panel -------------------------------------------------------------
    def add_project(self, name: str) -> str:
        """Idempotent, so that seeds can be replayed."""
        if not name or not name.strip():
            raise ValueError(f"project name: got {name!r}, expected a non-empty name")
        with self._lock:
            self._projects.setdefault(name, {})
        return name

    def projects(self) -> list[str]:
        with self._lock:
            return sorted(self._projects)

    def add_key(self, project: str, description: str, *, created_at: datetime | None = None) -> IottlyKey:
        if created_at is not None and created_at.tzinfo is None:
            raise ValueError(f"created_at: got {created_at!r}, expected an aware datetime")
        value = secrets.token_urlsafe(32)
        with self._lock:
            keys = self._project_keys(project)
            info = IottlyKeyInfo(str(uuid.uuid4()), project, description, created_at or self.clock.now())
            keys[info.id] = info
            self._by_digest[_digest(value)] = info
        return IottlyKey(info.id, project, description, info.created_at, value)

    def remove_key(self, project: str, key_id: str) -> None:
        with self._lock:
            keys = self._project_keys(project)
            if keys.pop(key_id, None) is None:
                raise UnknownKeyError(f"key id: got {key_id!r}, expected one of project {project!r}'s keys")
            self._by_digest = {d: k for d, k in self._by_digest.items() if k.id != key_id}

    def keys(self, project: str) -> list[IottlyKeyInfo]:
        with self._lock:
            return sorted(self._project_keys(project).values(), key=lambda k: (k.created_at, k.id))

    def _project_keys(self, project: str) -> dict[str, IottlyKeyInfo]:
        keys = self._projects.get(project)
        if keys is None:
            raise UnknownProjectError(
                f"project: got {project!r}, expected one made with add_project (known: {sorted(self._projects)})"
            )
        return keys

    # -- the API ------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [Route("project.ping", "GET", PING_PATH, self._ping)]

    def error_response(self, error: HttpError) -> Response:
        return json_response({"error": error.message}, error.status, error.headers)

    def authenticate(self, request: Request) -> IottlyKeyInfo:
        """The key named by the request's ``Authentication: bearer`` header, or a 401 that says why not."""
        header = request.headers.get(AUTH_HEADER)
        if header is None:
            hint = (
                " (the key goes in the Authentication header, not Authorization)"
                if "Authorization" in request.headers
                else ""
            )
            raise HttpError(401, "Unauthorized", f"missing Authentication header{hint}")
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value or " " in value:
            raise HttpError(401, "Unauthorized", "malformed Authentication header: expected 'bearer <API KEY>'")
        with self._lock:
            info = self._by_digest.get(_digest(value))
        if info is None:
            raise HttpError(401, "Unauthorized", "invalid API key")
        return info

    def _ping(self, request: Request) -> Response:
        self.authenticate(request)
        return json_response({"status": "pong"})

    # -- the same panel for an out-of-process sandbox (loopback only) ----------------------------------------
    def admin_routes(self) -> list[Route]:
        base = "/_emulator/iottly/projects"
        return [
            Route("_emulator.iottly.projects.list", "GET", base, self._admin_projects_list),
            Route("_emulator.iottly.projects.add", "POST", base, self._admin_projects_add),
            Route("_emulator.iottly.keys.list", "GET", f"{base}/<project>/keys", self._admin_keys_list),
            Route("_emulator.iottly.keys.add", "POST", f"{base}/<project>/keys", self._admin_keys_add),
            Route("_emulator.iottly.keys.remove", "DELETE", f"{base}/<project>/keys/<key_id>", self._admin_keys_remove),
        ]

    def _admin_projects_list(self, request: Request) -> Response:
        return json_response({"projects": self.projects()})

    def _admin_projects_add(self, request: Request) -> Response:
        body = read_json(request)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str):
            raise HttpError(400, "BadRequest", f"name: got {name!r}, expected a project name")
        try:
            self.add_project(name)
        except ValueError as exc:
            raise HttpError(400, "BadRequest", str(exc)) from None
        return json_response({"name": name}, 201)

    def _admin_keys_list(self, request: Request, project: str) -> Response:
        try:
            keys = self.keys(project)
        except UnknownProjectError as exc:
            raise HttpError(404, "NotFound", str(exc)) from None
        return json_response({"keys": [_key_json(k) for k in keys]})

    def _admin_keys_add(self, request: Request, project: str) -> Response:
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("description"), str):
            raise HttpError(400, "BadRequest", f'body: got {body!r}, expected {{"description": "..."}}')
        created_at = body.get("created_at")
        if created_at is not None and not isinstance(created_at, str):
            raise HttpError(400, "BadRequest", f"created_at: got {created_at!r}, expected an ISO 8601 string")
        try:
            when = datetime.fromisoformat(created_at) if created_at is not None else None
            key = self.add_key(project, body["description"], created_at=when)
        except UnknownProjectError as exc:
            raise HttpError(404, "NotFound", str(exc)) from None
        except ValueError as exc:
            raise HttpError(400, "BadRequest", str(exc)) from None
        return json_response({**_key_json(key), "value": key.value}, 201)

    def _admin_keys_remove(self, request: Request, project: str, key_id: str) -> Response:
        try:
            self.remove_key(project, key_id)
        except LookupError as exc:
            raise HttpError(404, "NotFound", str(exc)) from None
        return Response(status=204)

    @contextmanager
    def serve(self, ca: SandboxCA) -> Iterator[str]:
        """HTTPS on loopback; yields the base URL (the counterpart of https://api.cloud.iottly.com)."""
        with serve(self, tls=ca.server_context()) as base_url:
            yield base_url


def _key_json(key: IottlyKeyInfo) -> dict[str, str]:
    return {
        "id": key.id,
        "project": key.project,
        "description": key.description,
        "created_at": key.created_at.isoformat(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.iottly", description="The iottly API emulator, over HTTPS on loopback."
    )
    parser.add_argument("--project", default="greenhouse", help="the project to make, with one demo key")
    parser.add_argument("--env-file", type=Path, help="also write the printed settings to this file")
    args = parser.parse_args(argv)
    emulator = IottlyEmulator()
    emulator.add_project(args.project)
    key = emulator.add_key(args.project, "demo key (python -m emulators.iottly)")
    with tempfile.TemporaryDirectory(prefix="iottly-ca-") as ca_dir:
        ca = SandboxCA(Path(ca_dir))
        with emulator.serve(ca) as base_url:
            run_until_signalled(
                {
                    "IOTTLY_BASE_URL": base_url,
                    "IOTTLY_CA_BUNDLE": str(ca.pem_path),
                    "IOTTLY_PROJECT": args.project,
                    "IOTTLY_API_KEY": key.value,
                },
                args.env_file,
            )


if __name__ == "__main__":
    main()
