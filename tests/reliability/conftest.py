"""Fixtures of the reliability tests and the fault matrix's case count in the terminal summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from emulators.core import SandboxCA
from tests.reliability.runs import ForkServer, close_fork_server, fork_server

MATRIX = "test_fault_matrix.py::test_fault_then_convergence"
_outcomes: Counter[str] = Counter()
_collected: list[int] = []


@pytest.fixture(scope="session")
def reliability_ca() -> Iterator[SandboxCA]:
    ca = SandboxCA()
    yield ca
    ca.cleanup()


@pytest.fixture(scope="session")
def forks() -> Iterator[ForkServer]:
    yield fork_server()
    close_fork_server()


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: the matrix's full size
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _collected.append(sum(1 for item in items if MATRIX in item.nodeid))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if MATRIX in report.nodeid and (report.when == "call" or report.outcome != "passed"):
        _outcomes[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _outcomes:
        run = sum(_outcomes.values())
        detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_outcomes.items()))
        terminalreporter.write_line(f"fault matrix: {sum(_collected)} cases, {run} run ({detail})")
