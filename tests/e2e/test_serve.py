"""`rotation serve` as a real process against the sandbox: every job fires on a short schedule, SIGTERM and
SIGINT stop it cleanly, a restart resumes the stored jobs without running a fire time twice, and a fire
time that fell while it was down still runs after the restart.

Waits are on log lines (JSON on stderr), with one generous overall timeout; no sleeps."""

from __future__ import annotations

import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env

TIMEOUT = 180.0
EVERY_SECOND = "* * * * * *"
Event = dict[str, Any]


class Serve:
    """One `rotation serve` process; its stderr JSON lines collected by a reader thread."""

    def __init__(self, env: dict[str, str], store: Path, *extra: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 -- our own CLI, fixed arguments
            [sys.executable, "-m", "rotation", "serve", "--store", str(store), *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[Event] = []
        self.lines: list[str] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.deadline = datetime.now(UTC) + timedelta(seconds=TIMEOUT)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self._queue.put(event)
        self._queue.put(None)

    def wait_for(self, done: Callable[[list[Event]], bool], what: str) -> None:
        while not done(self.events):
            remaining = (self.deadline - datetime.now(UTC)).total_seconds()
            try:
                event = self._queue.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(f"timed out waiting for {what}:\n{''.join(self.lines[-40:])}") from None
            if event is None:
                raise AssertionError(f"serve exited before {what}:\n{''.join(self.lines[-40:])}")
            self.events.append(event)

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)
        while (event := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.events.append(event)
        return code


@contextmanager
def serving(env: dict[str, str], store: Path, *extra: str) -> Iterator[Serve]:
    serve = Serve(env, store, *extra)
    try:
        yield serve
    finally:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait(timeout=TIMEOUT)


def _finished(job: str) -> Callable[[list[Event]], bool]:
    """A run of `job` that got to its end (summary logged), whatever it found."""
    return lambda events: any(e.get("job") == job and e.get("event") in ("job_summary", "audit_done") for e in events)


def _all_finished(events: list[Event]) -> bool:
    return all(_finished(job)(events) for job in ("rotate", "revoke", "audit"))


def _submitted(events: list[Event]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"rotate": [], "revoke": [], "audit": []}
    for event in events:
        if event.get("event") == "job_submitted":
            out[event["job"]].extend(event["scheduled"])
    return out


def _env(world: RunningWorld, tmp_path: Path, **schedules: str) -> dict[str, str]:
    env = service_env(world, tmp_path / "reports", timedelta(0))
    env.update(
        {
            "ROTATE_SCHEDULE": schedules.get("rotate", EVERY_SECOND),
            "REVOKE_SCHEDULE": schedules.get("revoke", EVERY_SECOND),
            "AUDIT_SCHEDULE": schedules.get("audit", EVERY_SECOND),
        }
    )
    return env


def _stored_next_runs(store: Path) -> dict[str, datetime]:
    """The job store's pending run per job, read with sqlite3 (a scheduler opened here could process jobs)."""
    with closing(sqlite3.connect(store)) as db:
        rows = db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall()
    return {job: datetime.fromtimestamp(when, UTC) for job, when in rows}


def _set_next_run(store: Path, job_id: str, when: datetime) -> None:
    """Rewrites one stored job's pending run through APScheduler's own job store (no scheduler runs)."""
    jobstore = SQLAlchemyJobStore(url=f"sqlite:///{store}")
    jobstore.start(BackgroundScheduler(timezone=UTC), "default")
    try:
        job = jobstore.lookup_job(job_id)
        assert job is not None
        state = job.__getstate__()
        job.__setstate__({**state, "next_run_time": when})
        jobstore.update_job(job)
    finally:
        jobstore.shutdown()


def test_serve_fires_every_job_and_a_restart_runs_no_fire_time_twice(world: RunningWorld, tmp_path: Path) -> None:
    env = _env(world, tmp_path)
    store = tmp_path / "state" / "jobs.sqlite"
    with serving(env, store) as first:
        first.wait_for(_all_finished, "a finished rotate, revoke and audit")
        assert first.stop(signal.SIGTERM) == 0
    assert [e["event"] for e in first.events if e["event"].startswith("serve_")] == [
        "serve_started",
        "serve_stopping",
        "serve_stopped",
    ]
    assert {e["job"] for e in first.events if e["event"] == "job_scheduled"} == {"rotate", "revoke", "audit"}
    assert all(e.get("run_id") for e in first.events if e["event"] in ("job_started", "app_summary", "job_summary"))
    pending = _stored_next_runs(store)
    before = _submitted(first.events)

    with serving(env, store) as second:
        second.wait_for(_all_finished, "a finished rotate, revoke and audit after the restart")
        assert second.stop(signal.SIGINT) == 0
    resumed = {e["job"]: e for e in second.events if e["event"] == "job_resumed"}
    assert set(resumed) == {"rotate", "revoke", "audit"}  # kept from the store, not rescheduled from now
    assert not [e for e in second.events if e["event"] == "job_scheduled"]
    after = _submitted(second.events)
    for job in ("rotate", "revoke", "audit"):
        assert resumed[job]["next_run"] == pending[job].isoformat()
        assert before[job]
        assert after[job]
        assert len(before[job] + after[job]) == len(set(before[job] + after[job])), job  # no fire time twice
        assert min(after[job]) >= pending[job].isoformat() > max(before[job])
    text = "".join(first.lines + second.lines)
    assert "Traceback" not in text
    values = {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
    assert not [v for v in values if v in text]


def test_a_fire_time_missed_while_stopped_runs_once_after_the_restart(world: RunningWorld, tmp_path: Path) -> None:
    yearly = "0 0 0 1 1 *"
    env = _env(world, tmp_path, rotate=yearly, revoke=yearly, audit="0 0 0 * * *")  # the audit at midnight
    store = tmp_path / "jobs.sqlite"
    with serving(env, store, "--misfire-grace", "172800") as first:
        first.wait_for(lambda events: any(e["event"] == "serve_started" for e in events), "serve_started")
        assert first.stop() == 0
    # The process "was down over midnight": the audit's pending run is last midnight, as the store
    # would hold it had the process stopped before then.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    _set_next_run(store, "audit", midnight)

    with serving(env, store, "--misfire-grace", "172800") as second:
        second.wait_for(_finished("audit"), "the missed audit")
        assert second.stop() == 0
    submitted = [e for e in second.events if e["event"] == "job_submitted"]
    assert [(e["job"], e["scheduled"], e["past_due"]) for e in submitted] == [("audit", [midnight.isoformat()], True)]
    assert _stored_next_runs(store)["audit"] == midnight + timedelta(days=1)
    reports = [p for p in (tmp_path / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(reports) == 1


def test_bad_settings_stop_serve_with_one_line_and_exit_2(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1", "ROTATION_POLICIES": str(tmp_path)}
    cases = [
        (
            {"AUDIT_SCHEDULE": "0 0 6 * *"},
            ("AUDIT_SCHEDULE: got '0 0 6 * *' (5 fields), expected a 6-field NCRONTAB expression"),
        ),
        (
            {"ROTATION_FANOUT": "queue", "AzureWebJobsStorage": "UseDevelopmentStorage=true"},
            "ROTATION_FANOUT: got 'queue', expected inline for rotation serve",
        ),
    ]
    for extra, expected in cases:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "rotation", "serve", "--store", str(tmp_path / "s.sqlite")],
            env={**base, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines()[0].startswith(expected), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "s.sqlite").exists()
