"""The dependency locks: what is deployed (requirements.txt) and what make test installs (requirements-dev.txt)
pin every transitive dependency with hashes, agree with the direct pins of the .in files and with each other,
and the deployed lock holds only what the Function app imports (no test, emulator or `serve` packages)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
# (werkzeug is not here: azure-functions itself requires it)
NOT_DEPLOYED = {"aiohttp", "jsonschema", "apscheduler", "sqlalchemy", "pytest", "hypothesis", "trustme"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(name: str) -> dict[str, str]:
    """name -> version; asserts every requirement of the lock is pinned and hashed."""
    pins: dict[str, str] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / name).read_text(encoding="utf-8"))
    for block in blocks:
        if block.startswith("#") or not block.strip():
            continue
        match = PIN.match(block)
        assert match, f"{name}: got an unpinned requirement {block.splitlines()[0]!r}, expected name==version"
        assert "--hash=sha256:" in block, f"{name}: {match.group(1)} has no hash"
        pins[_norm(match.group(1))] = match.group(2)
    return pins


def _direct(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("-r "):
            pins |= _direct(line[3:].strip())
        elif match := PIN.match(line):
            pins[_norm(match.group(1))] = match.group(2)
    return pins


def test_every_direct_pin_is_locked_at_its_version() -> None:
    for source, lock in (("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")):
        locked = _lock(lock)
        for name, version in _direct(source).items():
            assert locked.get(name) == version, f"{lock}: {name} got {locked.get(name)}, expected {version} ({source})"


def test_the_dev_lock_installs_exactly_what_is_deployed() -> None:
    deployed, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")
    assert {n: v for n, v in dev.items() if n in deployed} == deployed


def test_test_emulator_and_serve_packages_are_not_deployed() -> None:
    assert not NOT_DEPLOYED & set(_lock("requirements.txt"))
    assert not NOT_DEPLOYED & set(_direct("requirements.in"))
