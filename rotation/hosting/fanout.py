"""Scale-out on the Functions engine: with ROTATION_FANOUT=queue the rotate and revoke timers enqueue one
message per app and a queue-triggered function runs each app on its own (any instance, in parallel).

Our part of the contract:
- `enqueue_apps(runtime, job)`: one message per app into ROTATION_QUEUE (default `rotation-apps`) of the
  host storage, JSON `{"job", "app", "enqueued_at"}`, base64 text (the queue trigger's default
  `messageEncoding`). Messages live a day: by then the next timer has enqueued the app again.
- `handle_message(runtime, body, dequeue_count)`: the queue trigger's body, already base64-decoded by the
  host. Runs the same per-app code as the inline mode (`run_job` with that one app, under the app's lease).
  An app that failed raises `AppFailedError` (it carries the `JobResult` for the summary), so the host
  makes the message visible again and retries it. An app another run holds is skipped: not a failure, the
  message is done. A message that cannot be run is not retried, since retrying cannot fix it: an app no
  longer in the policies is dropped with a warning (removed since it was enqueued); an unreadable message or
  unknown job is copied to the poison queue at once, where the audit sees it, and dropped.
- `poison_entries(runtime)`: what sits in `<queue>-poison`, grouped by app and job, peeked, never removed.

The host's part (Azure Functions queue extension, configured in host.json, not runnable in tests): it polls
the queue, dequeues, calls the function, deletes the message on success; on an exception the message
becomes visible again after `visibilityTimeout`; once its dequeue count reaches `maxDequeueCount` (5) the
host moves it to `<queue>-poison` (creating that queue) and it is never retried again. The tests play the
host's role with the same SDK calls. Duplicates (a timer enqueuing an app whose message is still retried)
are harmless: every run plans from the observed state and the app's lease keeps two runs apart.

The poison queue is never emptied by the service: an operator deletes a message once the app is fixed
(Storage Explorer or `az storage message clear`), and the audit reports the app until then.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

from rotation.adapters.storage import MessageQueue, storage_error
from rotation.engine.jobs import Job, JobResult, run_job
from rotation.errors import AppFailedError, InvalidMessageError
from rotation.hosting.runtime import Runtime

log = logging.getLogger("rotation.fanout")

JOBS: tuple[Job, ...] = ("rotate", "revoke")
MESSAGE_TTL = 24 * 3600  # seconds
PEEK_LIMIT = 32  # the most messages one peek returns (the Queue service's limit)
UNREADABLE = "(unreadable)"


@dataclass(frozen=True)
class PoisonEntry:
    """Poisoned messages of one app and job: `count` of them, the oldest enqueued at `enqueued_at` (ISO)."""

    app: str
    job: str
    enqueued_at: str
    count: int


def poison_queue(settings_queue: str) -> str:
    return f"{settings_queue}-poison"


def _ensure(queue: MessageQueue) -> None:
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()


def enqueue_apps(runtime: Runtime, job: Job) -> int:
    """One message per app of the policies; returns how many. `ServiceError` when storage refuses (the
    timer invocation fails; the apps enqueued so far still run, the next timer enqueues all again)."""
    if job not in JOBS:
        raise InvalidMessageError(f"enqueue: got job {job!r}, expected one of {', '.join(JOBS)}")
    name = runtime.settings.queue
    enqueued_at = runtime.now().isoformat()
    sent = 0
    with runtime.host_queue(name) as queue:
        try:
            _ensure(queue)
            for app in runtime.apps:
                queue.send_message(
                    json.dumps({"job": job, "app": app.name, "enqueued_at": enqueued_at}), time_to_live=MESSAGE_TTL
                )
                sent += 1
        except AzureError as exc:
            what = f"enqueue {job} into queue {name} ({sent} of {len(runtime.apps)} apps sent)"
            raise storage_error(what, exc) from None
    log.info("enqueued %d apps for %s into %s", sent, job, name)
    return sent


def parse_message(body: str) -> tuple[Job, str, str]:
    """(job, app, enqueued_at) of a message body, or `InvalidMessageError` naming what is wrong."""
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidMessageError(
            f'queue message: got {len(body)} characters that are not JSON, expected {{"job", "app", "enqueued_at"}}'
        ) from None
    if not isinstance(data, dict):
        raise InvalidMessageError(f"queue message: got a JSON {type(data).__name__}, expected an object")
    job, app, enqueued_at = data.get("job"), data.get("app"), data.get("enqueued_at", "")
    if job not in JOBS:
        raise InvalidMessageError(f"queue message field job: got {job!r}, expected one of {', '.join(JOBS)}")
    if not isinstance(app, str) or not app:
        raise InvalidMessageError(f"queue message field app: got {app!r}, expected an app name")
    return job, app, str(enqueued_at)


def handle_message(runtime: Runtime, body: str, dequeue_count: int) -> JobResult:
    """Runs the message's job on its app. Raises `AppFailedError` when the app failed (the host retries);
    returns the result otherwise, `result.dropped` saying why when the message was not run."""
    try:
        job, app_name, enqueued_at = parse_message(body)
    except InvalidMessageError as exc:
        _poison_now(runtime, body)
        log.error("%s; moved to %s without retrying", exc, poison_queue(runtime.settings.queue))  # noqa: TRY400
        return JobResult("rotate", [], dropped=str(exc))
    app = next((spec for spec in runtime.apps if spec.name == app_name), None)
    if app is None:
        reason = (
            f"queue message field app: got {app_name!r}, expected an app of the policies (removed since "
            f"it was enqueued at {enqueued_at}?); dropped"
        )
        log.warning(reason)
        return JobResult(job, [], dropped=reason)
    result = run_job(runtime, job, apps=[app])
    if result.failed:
        raise AppFailedError(
            f"{job} {app_name}: failed (attempt {dequeue_count}); the host retries the message, "
            f"then moves it to {poison_queue(runtime.settings.queue)}",
            result,
        )
    return result


def _poison_now(runtime: Runtime, body: str) -> None:
    """Copies an unrunnable message to the poison queue as the host would (best effort: logged if not)."""
    name = poison_queue(runtime.settings.queue)
    try:
        with runtime.host_queue(name) as queue:
            _ensure(queue)
            queue.send_message(body)
    except AzureError as exc:
        log.error("could not copy an unrunnable message to %s: %s", name, storage_error("send", exc))  # noqa: TRY400


def _decode(raw: str) -> tuple[str, str, str]:
    try:
        job, app, enqueued_at = parse_message(base64.b64decode(raw, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, InvalidMessageError):
        return UNREADABLE, UNREADABLE, ""
    return app, job, enqueued_at


def poison_entries(runtime: Runtime) -> list[PoisonEntry]:
    """Apps whose messages the host gave up on (or that were unrunnable), grouped by app and job, sorted.
    Peeks at most 32 messages (the service's limit for a peek) and never removes one. Empty when the queue
    fan-out has no storage configured or the poison queue does not exist (nothing was ever poisoned)."""
    host = runtime.settings.host_storage
    if host is None or not host.has_queue:
        return []
    name = poison_queue(runtime.settings.queue)
    try:
        with runtime.host_queue(name, decode=False) as queue:
            messages = queue.peek_messages(max_messages=PEEK_LIMIT)
    except ResourceNotFoundError:
        return []
    except AzureError as exc:
        raise storage_error(f"peek queue {name}", exc) from None
    return group(_decode(message.content or "") for message in messages)


def group(decoded: Iterable[tuple[str, str, str]]) -> list[PoisonEntry]:
    entries: dict[tuple[str, str], PoisonEntry] = {}
    for app, job, enqueued_at in decoded:
        seen = entries.get((app, job))
        if seen is None:
            entries[app, job] = PoisonEntry(app, job, enqueued_at, 1)
        else:
            oldest = min(filter(None, (seen.enqueued_at, enqueued_at)), default="")
            entries[app, job] = PoisonEntry(app, job, oldest, seen.count + 1)
    return [entries[key] for key in sorted(entries)]
