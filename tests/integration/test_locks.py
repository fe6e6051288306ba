"""Per-app locks: two runners of the rotate job on the sample world, one holding every app's lock (blob lease
in Azurite, or file lock) while the other runs: exactly one acts per app, the other reports it skipped.
Held locks are coordinated through events, never sleeps. Also: release on exceptions, a killed holder, lease
renewal while working, a lease lost while working, and a lock that cannot be checked (fail closed)."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from emulators.azurite import AzuriteEndpoints
from emulators.sandbox import RunningWorld
from rotation.adapters.locks import BlobLeaseLocks, FileLocks, LeaseOptions, lock_name
from rotation.domain.model import AppSpec
from rotation.engine.executor import Outcome
from rotation.engine.jobs import HELD_ELSEWHERE, LEASE, run_job
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

REPO = Path(__file__).resolve().parents[2]
WAIT = 60  # seconds: only a bound on a wait that a hung test would otherwise never leave, never a timing

Storage = Literal["blob", "file"]


def _env(
    world: RunningWorld, azurite: AzuriteEndpoints, storage: Storage, tmp_path: Path, container: str
) -> dict[str, str]:
    env = {
        "ROTATION_CA_BUNDLE": str(world.ca.pem_path),
        "ROTATION_MAX_CONCURRENCY": "8",
        "ROTATION_REPORTS_DIR": str(tmp_path / "reports"),
        "ROTATION_LEASE_CONTAINER": container,
    }
    if storage == "blob":
        env["AzureWebJobsStorage"] = azurite.connection_string
    return env


def _runtimes(
    world: RunningWorld,
    azurite: AzuriteEndpoints,
    storage: Storage,
    tmp_path: Path,
    options: LeaseOptions | None = None,
) -> tuple[Runtime, Runtime]:
    """Two runtimes: two invocations that share nothing but the lock storage."""
    settings = Settings.from_env(_env(world, azurite, storage, tmp_path, f"leases-{uuid.uuid4().hex[:12]}"))

    def runtime() -> Runtime:
        return Runtime(settings, sample_specs(world), lease_options=options or LeaseOptions())

    return runtime(), runtime()


def _marker(outcomes: list[Outcome]) -> list[tuple[str, str, str]]:
    return [(o.action, o.status, o.reason) for o in outcomes if o.action == LEASE]


@pytest.mark.azurite
@pytest.mark.parametrize("storage", ["blob", "file"])
def test_two_runners_exactly_one_acts_per_app_the_other_skips(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path, storage: Storage
) -> None:
    first_rt, second_rt = _runtimes(world, azurite, storage, tmp_path)
    apps = {app.name for app in first_rt.apps}
    auditor_versions = len(world.world.vault.versions("iotc-contoso-fleet-auditor"))
    held: set[str] = set()
    guard = threading.Lock()
    all_held, second_done = threading.Event(), threading.Event()

    def hold(app: AppSpec) -> None:  # the first runner keeps every lock until the second has finished
        with guard:
            held.add(app.name)
            if held == apps:
                all_held.set()
        assert second_done.wait(WAIT)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first_future = pool.submit(run_job, first_rt, "rotate", on_app_locked=hold)
        assert all_held.wait(WAIT)
        try:
            second = run_job(second_rt, "rotate")
        finally:
            second_done.set()
        first = first_future.result(timeout=WAIT)

    assert {run.app for run in second.apps} == apps
    for run in second.apps:
        assert run.skipped
        assert not run.failed
        assert run.planned == []
        assert _marker(run.outcomes) == [(LEASE, "skipped", HELD_ELSEWHERE)]
    assert not second.failed  # skipping is not a failure: the other run does the work

    by_app = {run.app: run for run in first.apps}
    assert not any(run.skipped for run in first.apps)
    assert all(o.status == "done" for o in by_app["contoso-fleet"].outcomes), by_app["contoso-fleet"].outcomes
    assert {(o.app, o.slot) for o in first.outcomes() if o.action == "Mint" and o.status == "done"} == {
        ("contoso-fleet", "auditor"),
        ("contoso-fleet", "maintenance"),
        ("fabrikam-stores", "exporter"),
        ("fabrikam-stores", "reporting"),
        ("fabrikam-stores", "alerts"),
    }
    assert len(world.world.vault.versions("iotc-contoso-fleet-auditor")) == auditor_versions + 1  # minted once

    # Released on exit: a third run takes every lock again (and finds nothing left to mint).
    third = run_job(second_rt, "rotate")
    assert not any(run.skipped for run in third.apps)
    assert not [o for o in third.outcomes() if o.action == "Mint"]
    for runtime in (first_rt, second_rt):
        runtime.close()


@pytest.mark.azurite
@pytest.mark.parametrize("storage", ["blob", "file"])
def test_a_holder_that_raises_releases_its_lock(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path, storage: Storage
) -> None:
    first_rt, second_rt = _runtimes(world, azurite, storage, tmp_path)
    contoso = [app for app in first_rt.apps if app.name == "contoso-fleet"]

    def crash(app: AppSpec) -> None:
        raise RuntimeError(f"worker crashed while holding {app.name}")

    crashed = run_job(first_rt, "rotate", apps=contoso, on_app_locked=crash)
    assert crashed.failed
    assert crashed.apps[0].state.errors == ("RuntimeError: worker crashed while holding contoso-fleet",)
    assert crashed.outcomes() == []  # nothing was done

    lock = second_rt.app_lock("contoso-fleet")
    assert lock.try_acquire()
    lock.release()
    after = run_job(second_rt, "rotate", apps=contoso)
    assert not after.failed
    assert not after.apps[0].skipped
    for runtime in (first_rt, second_rt):
        runtime.close()


HOLDER = """
import sys
from pathlib import Path
from azure.storage.blob import BlobServiceClient
from rotation.adapters.locks import BlobLeaseLocks, FileLocks, LeaseOptions
kind, where, container = sys.argv[1:4]
if kind == "blob":
    locks = BlobLeaseLocks(BlobServiceClient.from_connection_string(where).get_container_client(container),
                           LeaseOptions(duration=15))
else:
    locks = FileLocks(Path(where))
assert locks.lock("contoso-fleet").try_acquire()
print("held", flush=True)
sys.stdin.read()
"""


def _killed_holder(kind: Storage, where: str, container: str = "") -> None:
    """A separate process takes the lock and is killed with SIGKILL: no `finally`, no release."""
    holder = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", HOLDER, kind, where, container],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait(timeout=WAIT)
    holder.stdout.close()
    assert holder.stdin is not None
    holder.stdin.close()


def test_a_killed_holders_file_lock_is_free_at_once(tmp_path: Path) -> None:
    _killed_holder("file", str(tmp_path))
    lock = FileLocks(tmp_path).lock("contoso-fleet")
    assert lock.try_acquire()
    lock.release()


@pytest.mark.azurite
def test_a_killed_holders_lease_is_finite_and_can_be_taken_once_it_lapses(azurite: AzuriteEndpoints) -> None:
    """The lease outlives its killed holder only until it expires (15 s here, nobody renews it). Waiting 15 s
    is not allowed in tests, so the lapse is produced with a zero-period break, which leaves the lease in the
    same takeable state an expired one is in; what this checks is our part: the lease is finite (`fixed`),
    a held one makes the next runner skip, and a lapsed one is taken although the blob is still there."""
    container_name = f"leases-{uuid.uuid4().hex[:12]}"
    _killed_holder("blob", azurite.connection_string, container_name)
    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container_name)
    blob = container.get_blob_client(lock_name("contoso-fleet", ".lease"))
    lease = blob.get_blob_properties().lease
    assert (lease.state, lease.status, lease.duration) == ("leased", "locked", "fixed")  # never "infinite"

    locks = BlobLeaseLocks(container, LeaseOptions(duration=15))
    assert not locks.lock("contoso-fleet").try_acquire()
    BlobLeaseClient(blob).break_lease(lease_break_period=0)
    taken = locks.lock("contoso-fleet")
    assert taken.try_acquire()
    taken.release()
    assert blob.get_blob_properties().lease.state == "available"
    locks.close()


def _observer(
    predicate: Callable[[int, str | None], bool],
) -> tuple[threading.Event, list[tuple[str, int, str | None]], Callable[[str, int, str | None], None]]:
    """An `on_renew` callback that records every renewal attempt and sets an event once `predicate` holds."""
    seen: list[tuple[str, int, str | None]] = []
    event = threading.Event()

    def observe(app: str, renewals: int, lost: str | None) -> None:
        seen.append((app, renewals, lost))
        if predicate(renewals, lost):
            event.set()

    return event, seen, observe


@pytest.mark.azurite
def test_the_lease_is_renewed_while_the_work_outlasts_it(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    """A 15 s lease renewed every 10 ms (an injected interval): the work waits until the lease was renewed
    three times (as a run longer than 45 s with the default interval would) while a second runner still
    finds it held; every renewal is accepted by Azurite, which refuses renewing a lease that is not held."""
    renewed, seen, observe = _observer(lambda renewals, _lost: renewals >= 3)
    runtime, other = _runtimes(
        world, azurite, "blob", tmp_path, LeaseOptions(duration=15, renew_every=0.01, on_renew=observe)
    )
    contoso = [app for app in runtime.apps if app.name == "contoso-fleet"]
    still_held: list[bool] = []

    def long_work(app: AppSpec) -> None:
        assert renewed.wait(WAIT)
        still_held.append(not other.app_lock(app.name).try_acquire())

    result = run_job(runtime, "rotate", apps=contoso, on_app_locked=long_work)
    assert not result.failed
    assert still_held == [True]
    assert [renewals for _, renewals, _ in seen][:3] == [1, 2, 3]
    assert all(lost is None for _, _, lost in seen)
    assert _marker(result.apps[0].outcomes) == []
    again = other.app_lock("contoso-fleet")
    assert again.try_acquire()  # released after the work
    again.release()
    runtime.close()
    other.close()


@pytest.mark.azurite
def test_a_lease_lost_while_working_fails_the_app(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    """Someone breaks the lease mid-work (an operator, or it lapsed while storage was unreachable): the
    next renewal is refused, and the run reports the app failed since another run may have acted on it."""
    lost_event, seen, observe = _observer(lambda _renewals, lost: lost is not None)
    runtime, _ = _runtimes(
        world, azurite, "blob", tmp_path, LeaseOptions(duration=15, renew_every=0.01, on_renew=observe)
    )
    contoso = [app for app in runtime.apps if app.name == "contoso-fleet"]
    blob = runtime.host_blob_service().get_blob_client(
        runtime.settings.lease_container, lock_name("contoso-fleet", ".lease")
    )

    def broken_mid_work(_app: AppSpec) -> None:
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
        assert lost_event.wait(WAIT)

    result = run_job(runtime, "rotate", apps=contoso, on_app_locked=broken_mid_work)
    assert result.failed
    [(action, status, reason)] = _marker(result.apps[0].outcomes)
    assert (action, status) == (LEASE, "failed")
    assert reason.startswith("lease lost while working")
    assert seen[-1][2] is not None
    assert "409" in (seen[-1][2] or "")
    runtime.close()


@pytest.mark.azurite
def test_a_lock_that_cannot_be_checked_fails_the_app_closed(
    world: RunningWorld, azurite: AzuriteEndpoints, tmp_path: Path
) -> None:
    """The lease container name is valid but the account key is wrong: storage answers 403 and no app is
    touched (not observed, not changed), each reported failed with the reason."""
    wrong_key = azurite.connection_string.replace(azurite.account_key, "d3Jvbmcta2V5LW5vdC10aGUtZGV2LWtleQ==")
    env = _env(world, azurite, "blob", tmp_path, "rotation-leases") | {"AzureWebJobsStorage": wrong_key}
    runtime = Runtime(Settings.from_env(env), sample_specs(world))
    before = {name: len(world.world.vault.versions(name)) for name in ("iotc-contoso-fleet-auditor",)}
    result = run_job(runtime, "rotate")
    assert result.failed
    for run in result.apps:
        assert run.outcomes == []
        assert run.state.errors[0].startswith(
            "could not take the app's lock: AuthError: create lease "
            "container rotation-leases: got HTTP 403 AuthorizationFailure"
        )
    assert {name: len(world.world.vault.versions(name)) for name in before} == before
    runtime.close()
