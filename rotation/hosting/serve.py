"""`rotation serve`: the same jobs on the same schedules as the Function app, run by APScheduler 3.11 in a
long-lived process (a VM, a container, a laptop) instead of Azure Functions.

Restarts neither lose nor duplicate a run. Jobs live in a SQLite job store (SQLAlchemy). APScheduler
moves a job's next run time in the store forward *when it submits the run*, so a fire time that was
submitted before a stop is never submitted again (at most once). On start a stored job whose schedule is
unchanged is kept as it is, its pending next run time included, so a fire time that fell while the
process was down still runs after the restart, late, if it is within `misfire_grace_time`; several
missed fire times are coalesced into one run. A changed schedule replaces the stored job.

`max_instances=1`: a job that is still running when its next fire time comes is not started twice (the
per-app leases guard against other processes). SIGTERM and SIGINT stop the scheduler, let running jobs
finish, and exit 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from rotation.errors import RotationError
from rotation.hosting import metrics, schedules, telemetry

DEFAULT_MISFIRE_GRACE = 3600  # seconds: a run missed by up to an hour (a restart, a suspended VM) still runs
PAST_DUE_AFTER = 60  # seconds late before a run counts as past due (as the Functions host reports it)


def fire(job: schedules.JobName) -> None:
    """One scheduled run (referenced by name in the job store, so it must stay importable here)."""
    from rotation.hosting.triggers import on_timer  # noqa: PLC0415 -- the job's imports load in the worker thread

    try:
        on_timer(job, past_due=False, trigger="serve")
    except RotationError:
        pass  # logged with the per-app summary by on_timer; the next fire time comes as scheduled
    except Exception:  # noqa: BLE001 -- a crashed run must not stop the daemon; logged with its traceback
        telemetry.get_logger("rotation.serve").exception("job_crashed", job=job)


@dataclass
class Server:
    store: Path
    expressions: Mapping[schedules.JobName, str]
    misfire_grace: int = DEFAULT_MISFIRE_GRACE

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.log = telemetry.get_logger("rotation.serve")
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self.store}")},
            executors={"default": ThreadPoolExecutor(max_workers=len(schedules.SCHEDULES))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.misfire_grace},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_SUBMITTED:
            times = [t.astimezone(UTC) for t in event.scheduled_run_times]
            late = (datetime.now(UTC) - times[0]).total_seconds()
            self.log.info(
                "job_submitted",
                job=event.job_id,
                scheduled=[t.isoformat() for t in times],
                coalesced=len(times),
                past_due=late > PAST_DUE_AFTER,
                late_s=round(late, 3),
            )
        elif event.code == EVENT_JOB_MISSED:
            self.log.warning(
                "job_missed",
                job=event.job_id,
                scheduled=event.scheduled_run_time.isoformat(),
                detail=f"later than misfire_grace_time ({self.misfire_grace}s); the next one runs",
            )
        else:
            self.log.info("job_still_running", job=event.job_id, detail="max_instances=1: this fire time is skipped")

    def sync_jobs(self) -> None:
        """Keep stored jobs whose schedule is unchanged (their pending run too); replace the others."""
        for schedule in schedules.SCHEDULES:
            expression = self.expressions[schedule.job]
            trigger = schedules.cron_trigger(expression)
            stored = self.scheduler.get_job(schedule.job)
            if stored is not None and str(stored.trigger) == str(trigger):
                pending = stored.next_run_time.astimezone(UTC).isoformat() if stored.next_run_time else None
                self.log.info("job_resumed", job=schedule.job, schedule=expression, next_run=pending)
                continue
            job = self.scheduler.add_job(
                fire, trigger=trigger, args=[schedule.job], id=schedule.job, name=schedule.job, replace_existing=True
            )
            self.log.info(
                "job_scheduled",
                job=schedule.job,
                schedule=expression,
                replaced=stored is not None,
                next_run=job.next_run_time.astimezone(UTC).isoformat() if job.next_run_time else None,
            )

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        self.log.info("serve_stopping", signal=signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> None:
        """Until SIGTERM or SIGINT; running jobs finish before this returns."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.request_stop)
        self.store.parent.mkdir(parents=True, exist_ok=True)
        self.scheduler.start(paused=True)
        self.sync_jobs()
        self.scheduler.resume()
        self.log.info(
            "serve_started", store=str(self.store), misfire_grace_s=self.misfire_grace, schedules=dict(self.expressions)
        )
        while not self.stop.wait(1.0):  # wakes on the signal; the timeout only keeps signals deliverable
            pass
        self.scheduler.shutdown(wait=True)
        self.log.info("serve_stopped")

    def health(self) -> dict[str, Any] | None:
        """`/healthz`: the scheduler's state and each job's next run; None (503) once stopping or stopped."""
        if self.stop.is_set() or not self.scheduler.running:
            return None
        jobs = {
            job.id: job.next_run_time.astimezone(UTC).isoformat()
            for job in self.scheduler.get_jobs()
            if job.next_run_time
        }
        return {"next_runs": jobs}


def serve(
    store: Path,
    *,
    misfire_grace: int = DEFAULT_MISFIRE_GRACE,
    env: Mapping[str, str] | None = None,
    metrics_address: tuple[str, int] | None = None,
) -> None:
    """`metrics_address` (host, port; port 0 picks a free one): `/metrics` and `/healthz` while serving."""
    readers = [metrics.prometheus_reader()] if metrics_address else []
    telemetry.configure(stream=sys.stderr, env=env, metric_readers=readers)
    server = Server(store, schedules.expressions(env), misfire_grace)
    if metrics_address:
        endpoint = metrics.serve_metrics(*metrics_address, server.health)
        server.log.info("metrics_listening", host=metrics_address[0], port=endpoint.server_port)
    server.run()
