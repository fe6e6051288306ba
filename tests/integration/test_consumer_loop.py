"""A consumer keeps working through >= 20 rotations and their revocations: the real rotate and revoke
jobs against the sandbox emulators, the sandbox clock (emulators, service offset and consumer) advanced
past the grace each cycle, and a consumer thread calling GET /api/devices continuously through
`rotation.consumer.IoTCentralAuth`, between and during the jobs. Failed calls: 0."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from emulators.sandbox import RunningWorld
from rotation.engine.jobs import JobResult, run_job
from tests.integration.consumer_support import APP, DEVICES, SECRET, SLOT, Consumer, consumer, service_runtime

CYCLES = 21
STEP = timedelta(hours=5)  # below the consumer's max_age (6 h): it re-reads before the grace can pass
STEPS_PER_CYCLE = 5  # 25 h per cycle: past the 24 h grace, so each cycle's revoke has its superseded token


@dataclass
class ConsumerLoop:
    """Calls the app without pause in its own thread; the test waits for calls, never for time."""

    http: httpx.Client
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    _done: threading.Condition = field(default_factory=threading.Condition)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.http.get(DEVICES).status_code
                failure = None if status == 200 else f"HTTP {status}"
            except Exception as exc:  # noqa: BLE001 -- every failed call is counted, whatever it was
                failure = type(exc).__name__
            with self._done:
                self.calls += 1
                if failure is not None:
                    self.failures.append(failure)
                self._done.notify_all()

    def wait_calls(self, n: int = 2) -> None:
        """Until `n` more calls ended: the last of them started after this was called."""
        with self._done:
            target = self.calls + n
            assert self._done.wait_for(lambda: self.calls >= target or self._stop.is_set(), timeout=60), (
                "the consumer made no progress"
            )

    def stop(self) -> None:
        self._stop.set()


def _done(result: JobResult, action: str) -> int:
    return sum(1 for o in result.outcomes() if o.slot == SLOT and o.action == action and o.status == "done")


def _cycles(world: RunningWorld, loop: ConsumerLoop) -> tuple[int, int, int]:
    offset = timedelta(0)
    rotations = revocations = during = 0
    for _ in range(CYCLES):
        runtime = service_runtime(world, offset)
        before = loop.calls
        rotated = run_job(runtime, "rotate", forced=[(APP, SLOT)])
        during += loop.calls - before
        rotations += _done(rotated, "Mint")
        loop.wait_calls()
        for _ in range(STEPS_PER_CYCLE):
            world.world.clock.advance(STEP)
            offset += STEP
            loop.wait_calls()
        runtime.close()
        runtime = service_runtime(world, offset)
        before = loop.calls
        revoked = run_job(runtime, "revoke")
        during += loop.calls - before
        revocations += _done(revoked, "Revoke")
        runtime.close()
        loop.wait_calls()
    return rotations, revocations, during


def _run(world: RunningWorld, client: Consumer) -> tuple[ConsumerLoop, tuple[int, int, int]]:
    loop = ConsumerLoop(client.http)
    thread = threading.Thread(target=loop.run, name="consumer")
    thread.start()
    try:
        counts = _cycles(world, loop)
    finally:
        loop.stop()
        thread.join()
    return loop, counts


def test_a_consumer_never_fails_through_21_rotations_and_revocations(world: RunningWorld) -> None:
    world.world.iotcentral.rate_limit = None  # the app's quota is not what this test measures
    world.world.identity.token_lifetime = timedelta(days=60)  # the consumer's vault bearer outlives the time travel
    with consumer(world) as client:
        loop, (rotations, revocations, during) = _run(world, client)

        assert loop.failures == []
        assert rotations == CYCLES
        assert revocations == CYCLES + 1  # each cycle's superseded token, and the seeded one past its grace
        assert loop.calls >= 2 * CYCLES * (STEPS_PER_CYCLE + 2)
        # Re-read exactly when the cached value turned 6 h old: at every second 5 h step (0, 10, 20 ... h).
        expected_reads = 1 + (CYCLES * STEPS_PER_CYCLE) // 2
        assert client.cache.reads == expected_reads
        assert client.vault_reads.count == expected_reads
        assert client.cache.refused == 0  # no 401: the cache never held a revoked token
        assert client.auth.retries == 0
    versions = world.world.vault.versions(SECRET)
    assert sum(v.tags.get("stage") == "revoked" for v in versions) == CYCLES + 1
    assert client.cache.version == versions[-1].version  # the consumer ended on the current version
    print(
        f"\nconsumer calls {loop.calls} (during jobs {during}), vault reads {client.cache.reads}, "
        f"rotations {rotations}, revocations {revocations}"
    )
