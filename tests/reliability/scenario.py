"""One fault-matrix case end to end: the faulted run, convergence, and every invariant.

A case is (job, k, call, fault): the k-th API request (`call`, across the identity endpoint, IoT Central and
Key Vault) of a `rotation <job>` run on a fresh world gets `fault`. Then the world is converged: after a
rotate that did not succeed, first a `revoke` (its superseded tokens still in grace, as `rotation run`
does); then `rotate` until a run plans nothing (at most MAX_ROUNDS); then the emulators' clock and the
service's clock (ROTATION_CLOCK_OFFSET) jump past grace + orphan safety window and `revoke` runs once
more. The calls are enumerated from a clean run of each job on a fresh world, in request order, never
written down here.
"""

from __future__ import annotations

import signal
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

from emulators.core import SandboxCA
from tests.reliability.invariants import run_problems, state_problems
from tests.reliability.runs import ADVANCE, MAX_ROUNDS, CliRun, ForkServer, fork_server
from tests.reliability.tap import CRASHES, Call, DeleteGuard, Injection, RequestTap
from tests.reliability.world import GRACE, HTTP_TIMEOUT, SLOTS, FaultWorld, fault_world, secret_name

JOBS = ("rotate", "revoke")


@dataclass(frozen=True)
class Case:
    job: str
    index: int
    call: Call
    fault: str

    @property
    def due(self) -> bool:
        """Whether the case's world has a slot due (the revoke cases' world has none: see `world`)."""
        return self.job == "rotate"

    @property
    def id(self) -> str:
        return f"{self.job}-{self.index:02d}-{self.call.label()}-{self.fault}"


class Scenario:
    """Runs the CLI against one world with the tap and the deletion guard attached for every run."""

    def __init__(self, world: FaultWorld, server: ForkServer, directory: Path) -> None:
        self.world = world
        self.server = server
        self.directory = directory
        self.guard = DeleteGuard(world.sandbox, {slot: secret_name(slot) for slot in SLOTS}, GRACE)
        sandbox = world.sandbox
        self.tap = RequestTap([sandbox.identity, sandbox.iotcentral, sandbox.vault], self.guard)
        self.offset = timedelta(0)
        self.problems: list[str] = []

    def run(self, job: str, injection: Injection | None = None) -> CliRun:
        """A faulted run gets a short read timeout (a held request must outlast it); the runs that converge
        keep the service's default, so that a loaded machine cannot add faults to them."""
        self.tap.arm(injection)
        env = self.world.env(self.offset, HTTP_TIMEOUT if injection is not None else None)
        done = self.server.run([job, "--json"], env, self.directory, on_pid=self.tap.set_pid)
        if not self.tap.wait_idle():
            self.problems.append(f"{job}: a request was still being handled long after the run ended")
        self.tap.disarm()
        return done

    def advance(self) -> None:
        self.world.sandbox.clock.advance(ADVANCE)
        self.offset += ADVANCE

    def converge(self, *, revoke_first: bool) -> None:
        """`revoke_first`: a revoke runs on what the faulted run left, while superseded tokens are still in
        grace, as `rotation run` and the timers do after a rotate."""
        if revoke_first:
            self.problems += run_problems(self.run("revoke"))
        for _ in range(MAX_ROUNDS):
            rotate = self.run("rotate")
            self.problems += run_problems(rotate)
            if not rotate.planned():
                break
        else:
            reasons = "; ".join(str(a.get("reason")) for a in rotate.planned())
            self.problems.append(
                f"convergence: rotate still plans [{reasons}] after {MAX_ROUNDS} runs, expected "
                "a run with nothing to do"
            )
        self.advance()
        self.problems += run_problems(self.run("revoke"))


def run_case(case: Case, world: FaultWorld, server: ForkServer, directory: Path) -> list[str]:
    """Every problem of one case: injection, the faulted run, convergence, invariants (a)-(d)."""
    scenario = Scenario(world, server, directory)
    injection = Injection(case.index, case.fault, case.call)
    faulted = scenario.run(case.job, injection)
    problems = injection.problems()
    if case.fault in CRASHES:
        if faulted.returncode != -signal.SIGKILL:
            problems.append(
                f"{case.fault}: the run ended with exit {faulted.returncode}, expected it killed "
                f"at request {case.index}"
            )
    else:
        problems += run_problems(faulted)
    # a revoke on what an interrupted rotate left, while its superseded tokens are in grace (a rotate that
    # succeeded leaves the state every revoke case starts from: nothing new to learn, one run saved)
    scenario.converge(revoke_first=case.job == "rotate" and (case.fault in CRASHES or faulted.returncode != 0))
    return [*problems, *scenario.problems, *state_problems(world), *scenario.guard.violations]


@cache
def clean_calls(job: str) -> tuple[Call, ...]:
    """The API requests of a clean `rotation <job>` on a fresh world, in order; checked against the
    emulators' own counters."""
    ca = SandboxCA()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="clean-run-") as tmp,
            fault_world(Path(tmp), ca, due=job == "rotate") as world,
        ):
            scenario = Scenario(world, fork_server(), Path(tmp))
            done = scenario.run(job)
            if done.returncode != 0:
                raise RuntimeError(f"clean {job}: got exit {done.returncode}, expected 0: {done.stderr[-500:]}")
            sandbox = world.sandbox
            counted = sum(e.counters.total() for e in (sandbox.identity, sandbox.iotcentral, sandbox.vault))
            if counted != len(scenario.tap.calls):
                raise RuntimeError(
                    f"clean {job}: the tap saw {len(scenario.tap.calls)} requests, the emulators counted {counted}"
                )
            return tuple(scenario.tap.calls)
    finally:
        ca.cleanup()


def cases(faults: tuple[str, ...]) -> list[Case]:
    return [
        Case(job, index, call, fault)
        for job in JOBS
        for index, call in enumerate(clean_calls(job), 1)
        for fault in faults
    ]
