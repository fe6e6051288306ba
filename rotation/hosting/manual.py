"""The host side of the manual-action paper trail (`rotation.domain.events`): who is signed in, where the
events go, and reading them back for the audit.

`record` runs AFTER the action, with its outcome: it logs one structured line (`manual_action ...`, logger
`rotation.manual`, INFO) and appends the event to every configured store (the local report folder always,
the reports blob container when configured). A store that refuses the event does not undo the action;
`record` returns its error and the CLI exits 3 saying the record is missing.
"""

from __future__ import annotations

import getpass
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rotation.adapters.blobstore import build_container_client
from rotation.adapters.events import BlobEventLog, LocalEventLog
from rotation.domain.events import Action, ManualEvent, Outcome, Principal, event_id, jwt_claims
from rotation.errors import RotationError, ServiceError

if TYPE_CHECKING:
    from rotation.hosting.runtime import Runtime

log = logging.getLogger("rotation.manual")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without /etc/passwd entry)
        return ""


def principal(runtime: Runtime, *, via: str = "") -> Principal:
    """The signed-in identity from the claims of the access token the CLI uses for IoT Central (decoded
    without verification: attribution, not authentication), the OS user beside it. Never raises: an
    identity that cannot be read is recorded as unknown, with why."""
    try:
        claims = jwt_claims(runtime.identity_token())
    except Exception as exc:  # noqa: BLE001 -- the record must be written whatever the credential does
        return Principal(os_user=os_user(), via=via, error=f"{type(exc).__name__}: {exc}"[:300])
    return Principal.from_claims(claims, os_user=os_user(), via=via)


def _blob_log(runtime: Runtime) -> BlobEventLog | None:
    settings = runtime.settings
    if not (settings.reports_account_url or settings.reports_connection_string):
        return None
    container = build_container_client(
        settings.reports_container,
        account_url=settings.reports_account_url,
        connection_string=settings.reports_connection_string,
        credential=None if settings.reports_connection_string else runtime.credential_object(),
        timeout=settings.http_timeout,
        logging_enable=runtime.sdk_logging,
    )
    return BlobEventLog(container)


def record(
    runtime: Runtime,
    action: Action,
    app: str,
    *,
    reason: str,
    outcome: Outcome,
    who: Principal,
    slot: str | None = None,
    token_id: str | None = None,
    detail: str = "",
) -> tuple[ManualEvent, list[str]]:
    """Logs and stores the event; returns it and the stores' errors (empty when every store has it)."""
    at = runtime.now()
    event = ManualEvent(
        event_id(at, secrets.token_hex(4)), at, action, app, reason, outcome, who, slot, token_id, detail[:500]
    )
    log.info(event.log_line())
    errors = []
    try:
        LocalEventLog(runtime.settings.reports_dir).append(event)
    except OSError as exc:
        errors.append(f"{runtime.settings.reports_dir / 'events'}: {exc.strerror or exc}")
    try:
        blob = _blob_log(runtime)
        if blob is not None:
            try:
                blob.append(event)
            finally:
                blob.close()
    except RotationError as exc:
        errors.append(str(exc))
    except Exception as exc:  # noqa: BLE001 -- recording must never hide the action's own outcome
        errors.append(f"{type(exc).__name__}: {exc}")
    for error in errors:
        log.info("manual_action_unrecorded id=%s error=%s", event.id, error)  # the CLI says it on stderr once
    return event, errors


def read_events(runtime: Runtime, since: datetime, apps: Sequence[str]) -> list[ManualEvent]:
    """The events of `apps` at or after `since`, from the blob container when configured (what a Function's
    fresh disk cannot hold) and the local folder, merged by id. Raises RotationError when a store cannot be
    read (the audit records that as AUDIT-001)."""
    until = runtime.now()
    try:
        found = {e.id: e for e in LocalEventLog(runtime.settings.reports_dir).since(since, until)}
    except OSError as exc:
        raise ServiceError(f"read {runtime.settings.reports_dir / 'events'}: {exc.strerror or exc}") from None
    blob = _blob_log(runtime)
    if blob is not None:
        try:
            found.update({e.id: e for e in blob.since(since, until)})
        finally:
            blob.close()
    wanted = set(apps)
    return sorted((e for e in found.values() if e.app in wanted), key=lambda e: e.id)
