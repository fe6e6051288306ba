"""The jobs the timers and the CLI run: observe → plan → execute, per app, apps in parallel.

One app's failure never stops the others (certbot's renewal pattern); the result says per app what was
planned, what happened and why, and whether anything failed.

Each app is worked on under its lock (`Connections.app_lock`: a blob lease in Azure, a file lock locally), so
two runs never change the same app at once. An app whose lock another run holds is skipped and reported
as such (one `skipped` outcome), which is not a failure: the other run does the work. A lock that cannot be
checked (storage down) fails the app closed; a lease lost while working fails it too. A dry run (plan) only
reads and takes no lock.

Within an app, independent reads (and different slots' actions) run concurrently on one inner pool shared
by the job's apps: `READS_PER_APP` threads per app worker, so a job never holds more than
`max_concurrency * (1 + READS_PER_APP)` threads however many slots its apps declare; the app's own thread
does one of each round's calls itself. At `max_concurrency` 1 nothing runs concurrently: one request at
a time, in the protocol's order (the fault matrix enumerates requests by their index in that order).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from rotation.domain.model import AppSpec, AppState
from rotation.engine.actions import Action, ActionKind, Blocked
from rotation.engine.executor import AppExecutor, Outcome, VerifyPolicy
from rotation.engine.observe import observe_app
from rotation.engine.planner import plan_revocation, plan_rotation, replaced_anyway
from rotation.engine.ports import AppLock, Connections

Job = Literal["rotate", "revoke"]
LEASE = ActionKind.LEASE  # the outcome's action for lock markers
HELD_ELSEWHERE = "another run holds the lease"
READS_PER_APP = 3  # a slot pair's listings + the token listing (the bench's apps): more waits its turn


@dataclass
class AppRun:
    app: str
    state: AppState
    planned: list[Action]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.status == "failed" for o in self.outcomes) or any(isinstance(a, Blocked) for a in self.planned)

    @property
    def skipped(self) -> bool:
        """Another run held the app's lock: nothing was observed or changed here."""
        return any(o.action == LEASE and o.status == "skipped" for o in self.outcomes)

    @property
    def unmanaged(self) -> list[str]:
        """Tokens made by people: never touched unless a policy says so; reported here and by the audit."""
        deleted = {getattr(a, "token_id", None) for a in self.planned}
        return [t.id for t in self.state.tokens or () if not t.managed and t.id not in deleted]


@dataclass
class JobResult:
    job: Job
    apps: list[AppRun]
    dry_run: bool = False
    dropped: str | None = None  # a queue message that was not run (`rotation.hosting.fanout`), and why

    @property
    def failed(self) -> bool:
        return any(run.failed for run in self.apps)

    def outcomes(self) -> list[Outcome]:
        return [o for run in self.apps for o in run.outcomes]


def _plan(
    job: Job, app: AppSpec, state: AppState, runtime: Connections, forced: Iterable[tuple[str, str]]
) -> list[Action]:
    now = runtime.now()
    if job == "rotate":
        return list(plan_rotation([app], {app.name: state}, now, forced))
    return list(plan_revocation([app], {app.name: state}, now))


def _failed(app: AppSpec, message: str) -> AppRun:
    state = AppState(app.name, None, errors=(message,))
    return AppRun(app.name, state, [Blocked(app.name, None, f"app failed: {message}")])


def _skipped(app: AppSpec) -> AppRun:
    return AppRun(app.name, AppState(app.name, None), [], [Outcome(app.name, None, LEASE, "skipped", HELD_ELSEWHERE)])


@dataclass
class _AppWorker:
    """One job's work on each app: under its lock (unless a dry run), observe → plan → execute; whatever
    fails becomes that app's failure, never the job's."""

    runtime: Connections
    job: Job
    forced: list[tuple[str, str]]
    dry_run: bool
    verify_policy: VerifyPolicy | None
    on_app_done: Callable[[AppRun], None] | None
    on_app_locked: Callable[[AppSpec], None] | None
    pool: Executor | None = None

    def one(self, app: AppSpec) -> AppRun:
        run = self.guarded(app) if self.dry_run else self.locked(app)
        if self.on_app_done is not None:
            self.on_app_done(run)
        return run

    def locked(self, app: AppSpec) -> AppRun:
        lock: AppLock
        try:
            lock = self.runtime.app_lock(app.name)
            if not lock.try_acquire():
                return _skipped(app)
        except Exception as exc:  # noqa: BLE001 -- fail closed: no work on an app whose lock is unknown
            return _failed(app, f"could not take the app's lock: {type(exc).__name__}: {exc}")
        try:
            if self.on_app_locked is not None:
                self.on_app_locked(app)
            run = self.guarded(app)
        except Exception as exc:  # noqa: BLE001 -- the hook's failure is this app's failure, never the job's
            run = _failed(app, f"{type(exc).__name__}: {exc}")
        finally:
            lock.release()
        if lock.lost is not None:
            run.outcomes.append(
                Outcome(
                    app.name,
                    None,
                    LEASE,
                    "failed",
                    "lease lost while working: another run may have acted on this app",
                    lock.lost,
                )
            )
        return run

    def guarded(self, app: AppSpec) -> AppRun:
        try:
            return self.attempt(app)
        except Exception as exc:  # noqa: BLE001 -- one app's failure must never stop the others
            return _failed(app, f"{type(exc).__name__}: {exc}")

    def attempt(self, app: AppSpec) -> AppRun:
        iotc = self.runtime.iotcentral(app)
        vault = self.runtime.vault(app.vault)
        now = self.runtime.now()
        state = observe_app(
            app,
            iotc,
            vault,
            verify_current=self.job == "rotate",
            all_role_names=False,
            pool=self.pool,
            unverified=lambda seen: replaced_anyway(app, seen, now, self.forced),
        )
        run = AppRun(app.name, state, _plan(self.job, app, state, self.runtime, self.forced))
        if not self.dry_run:
            executor = AppExecutor(
                app,
                iotc,
                vault,
                self.runtime.now,
                random.SystemRandom(),
                self.verify_policy or VerifyPolicy(),
                observed=state,
                pool=self.pool,
            )
            run.outcomes = executor.run(run.planned)
        return run


def run_job(
    runtime: Connections,
    job: Job,
    *,
    apps: Sequence[AppSpec] | None = None,
    forced: Iterable[tuple[str, str]] = (),
    dry_run: bool = False,
    verify_policy: VerifyPolicy | None = None,
    on_app_done: Callable[[AppRun], None] | None = None,
    on_app_locked: Callable[[AppSpec], None] | None = None,
) -> JobResult:
    """`on_app_locked(app)` runs while the app's lock is held, before anything is read: a hook for tests
    (hold the lock while a second runner tries) and progress displays."""
    selected = list(apps if apps is not None else runtime.apps)
    concurrency = runtime.settings.max_concurrency
    worker = _AppWorker(runtime, job, list(forced), dry_run, verify_policy, on_app_done, on_app_locked)
    with reads_pool(concurrency, job) as worker.pool, ThreadPoolExecutor(concurrency, job) as pool:
        runs = list(pool.map(worker.one, selected))
    return JobResult(job, runs, dry_run)


@contextlib.contextmanager
def reads_pool(concurrency: int, job: str) -> Iterator[Executor | None]:
    """The inner pool shared by a job's app workers for the reads within an app (`READS_PER_APP` each);
    none at concurrency 1, where requests keep one fixed order (the fault matrix counts on it)."""
    if concurrency <= 1:
        yield None
        return
    with ThreadPoolExecutor(max_workers=concurrency * READS_PER_APP, thread_name_prefix=f"{job}-reads") as pool:
        yield pool
