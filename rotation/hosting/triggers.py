"""What the Azure Functions triggers run (function_app.py only wires a trigger to one of these).

Each invocation loads settings and policies, builds the runtime, runs one job, logs one summary line per
app and one for the job, counts what happened (OpenTelemetry), and raises `JobFailedError` when the job
failed: the invocation then fails, which is what the Function app's failure alert watches. A past-due
timer (the host was down or busy at the scheduled time) is logged and the job runs as usual: every job
plans from the observed state, so a late run is a normal run.

With ROTATION_FANOUT=queue the rotate and revoke timers only enqueue one message per app
(`rotation.hosting.fanout`) and the queue trigger handles each app; a message that keeps failing goes to the
poison queue after the host's maxDequeueCount (host.json).

function_app.py passes `functions_app=__file__`: that, not an environment guess, says the run is in the
Functions host (the host forwards log records itself) and anchors relative paths at the app root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rotation.engine.actions import Blocked
from rotation.engine.jobs import Job, JobResult
from rotation.errors import AppFailedError, InvalidMessageError, JobFailedError, PolicyError, RotationError
from rotation.hosting import telemetry
from rotation.hosting.config import Settings, functions_app_root
from rotation.hosting.runtime import Runtime
from rotation.hosting.schedules import JobName


def _runtime(settings: Settings) -> Runtime:
    from rotation.policy.specs import load_app_specs  # noqa: PLC0415 -- pydantic and ruamel only when a job runs

    apps, iottly = load_app_specs(settings)
    return Runtime(settings, apps, iottly_apps=iottly)


def _settings(env: Mapping[str, str], functions_app: str | None) -> Settings:
    root = None if functions_app is None else functions_app_root(env, functions_app)
    return Settings.from_env(env, app_root=root)


def on_timer(
    job: JobName,
    *,
    past_due: bool,
    trigger: str = "timer",
    env: Mapping[str, str] | None = None,
    functions_app: str | None = None,
) -> None:
    """The rotate, revoke and audit timers (and `rotation serve`'s runs, trigger "serve"); `functions_app`
    is the path of function_app.py when the Functions host runs it."""
    env = os.environ if env is None else env
    telemetry.configure(env=env, in_functions=functions_app is not None)
    log = telemetry.get_logger("rotation.functions")
    with telemetry.run_context(job, trigger):
        if past_due:
            log.warning("timer_past_due", detail="the scheduled time was missed (host down or busy); running now")
        log.info("job_started", past_due=past_due)
        try:
            if job == "audit":
                _audit(_settings(env, functions_app), log)
            else:
                _rotate_or_revoke("rotate" if job == "rotate" else "revoke", _settings(env, functions_app), log)
        except JobFailedError:
            raise
        except RotationError as exc:
            log.error("job_failed", error_type=type(exc).__name__, error=str(exc))  # noqa: TRY400 -- no traceback
            raise


def _rotate_or_revoke(job: Job, settings: Settings, log: Any) -> None:
    from rotation.engine.jobs import run_job  # noqa: PLC0415

    runtime = _runtime(settings)
    try:
        if settings.fanout == "queue":
            from rotation.hosting.fanout import enqueue_apps  # noqa: PLC0415 -- azure-storage-queue only when queued

            count = enqueue_apps(runtime, job)
            log.info("job_enqueued", apps=count, fanout=settings.fanout, queue=settings.queue)
            return
        result = run_job(runtime, job)
    finally:
        runtime.close()
    finish(result, log)


def on_queue_message(
    body: str, dequeue_count: int, *, env: Mapping[str, str] | None = None, functions_app: str | None = None
) -> None:
    """One app of a fanned-out rotate or revoke. A failed app raises (after its summary is logged), so the
    host retries the message, then moves it to the poison queue; an unrunnable message is dropped."""
    from rotation.hosting.fanout import handle_message, parse_message  # noqa: PLC0415

    env = os.environ if env is None else env
    telemetry.configure(env=env, in_functions=functions_app is not None)
    log = telemetry.get_logger("rotation.functions")
    try:
        job, app, _ = parse_message(body)
    except InvalidMessageError:
        job, app = "rotate", None  # handle_message reports and poisons it
    with telemetry.run_context(job, "queue"):
        log.info("message_received", app=app, dequeue_count=dequeue_count)
        runtime = _runtime(_settings(env, functions_app))
        try:
            result = handle_message(runtime, body, dequeue_count)
        except AppFailedError as exc:
            _report(exc.result, log)
            log.warning("message_retried", app=app, dequeue_count=dequeue_count, detail=str(exc))
            raise
        except RotationError as exc:
            log.error("job_failed", error_type=type(exc).__name__, error=str(exc))  # noqa: TRY400
            raise
        finally:
            runtime.close()
        if result.dropped:
            log.warning("message_dropped", app=app, reason=result.dropped)
        finish(result, log)


def summarize(result: JobResult) -> list[dict[str, Any]]:
    """Per app: what was planned and what happened, with reasons (identifiers only, never values)."""
    return [
        {
            "app": run.app,
            "failed": run.failed,
            "skipped": run.skipped,
            "planned": len(run.planned),
            "outcomes": [
                {"slot": o.slot, "action": o.action, "status": o.status, "reason": o.reason, "detail": o.detail}
                for o in run.outcomes
            ],
            "blocked": [a.reason for a in run.planned if isinstance(a, Blocked)],
            "errors": list(run.state.errors),
            "unmanaged": run.unmanaged,
        }
        for run in result.apps
    ]


def finish(result: JobResult, log: Any) -> None:
    """Logs the per-app summary and the job line, counts, then fails the invocation when the job failed."""
    _report(result, log)
    if result.failed:
        failed_apps = [run.app for run in result.apps if run.failed]
        raise JobFailedError(
            f"{result.job}: {len(failed_apps)} of {len(result.apps)} apps failed: "
            f"{', '.join(failed_apps)} (see the app_summary lines)"
        )


def _report(result: JobResult, log: Any) -> None:
    for line in summarize(result):
        (log.warning if line["failed"] else log.info)("app_summary", **line)
    outcomes = result.outcomes()
    failed_apps = [run.app for run in result.apps if run.failed]
    log.info(
        "job_summary",
        job=result.job,
        apps=len(result.apps),
        failed_apps=failed_apps,
        done=sum(1 for o in outcomes if o.status == "done"),
        failed=sum(1 for o in outcomes if o.status == "failed"),
    )
    telemetry.counters().record_job(result)


def _audit(settings: Settings, log: Any) -> None:
    from rotation.audit.run import record_policy_error, run_audit  # noqa: PLC0415 -- jinja2 and reports

    try:
        runtime = _runtime(settings)
    except PolicyError as exc:  # nothing to audit against: the run folder records why (fail closed)
        recorded = record_policy_error(Runtime(settings, []), str(exc), fail_on=settings.fail_on)
        raise JobFailedError(f"audit: invalid policy, recorded in {recorded.run_dir}: {exc}") from None
    try:
        run = run_audit(runtime, fail_on=settings.fail_on)  # with the queue fan-out it peeks the poison queue
    finally:
        runtime.close()
    telemetry.counters().record_audit(run.counts)
    log.info(
        "audit_done",
        run_dir=str(run.run_dir),
        exit_code=run.exit_code,
        open_by_severity=run.counts,
        fail_on=run.fail_on,
        published=len(run.published),
        upload_error=run.upload_error,
    )
    if run.failed:
        raise JobFailedError(f"audit: incomplete or not uploaded (exit 3), local copy in {run.run_dir}")
    if run.exit_code:
        raise JobFailedError(
            f"audit: {len(run.over_threshold)} open findings at or above {run.fail_on} "
            f"(see the audit_finding lines and {run.run_dir})"
        )
