"""Azurite, the real Azure Storage emulator, run as a child process for the blob leases (per-app locks)
and queues the service uses, so that the real azure-storage-blob and azure-storage-queue SDKs are tested
against the real wire protocol rather than against a Python imitation of it.

It is installed from the npm registry into tools/azurite (pinned by its package-lock.json) with
``npm ci --prefix tools/azurite``. Each run gets its own workspace directory and ports chosen by the
kernel (Azurite 3.37 accepts port 0 and logs the port it got), so parallel runs never collide; readiness
is read from that log line, not guessed with a sleep. Telemetry is switched off: nothing leaves loopback.

Stopping: the process is started in its own process group; it gets SIGTERM, a bounded wait, then
SIGKILL, so that a test run never leaves an Azurite behind.

Run alone: ``python -m emulators.azurite`` prints the connection string until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from emulators.core.runner import run_until_signalled

AZURITE_DIR = Path(__file__).resolve().parent.parent / "tools" / "azurite"
ENTRY_POINT = Path("node_modules") / "azurite" / "dist" / "src" / "azurite.js"
MIN_NODE_MAJOR = 20
NODE_MISSING = "Node.js 20+ is needed for Azurite: install it, then run make test"
NOT_INSTALLED = "Azurite is not installed in tools/azurite: run: npm ci --prefix tools/azurite"

# Azurite's single built-in development account (public, documented by Microsoft; not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# --skipApiVersionCheck: the installed SDKs default to a newer x-ms-version (2026-10-06 with
# azure-storage-blob 12.31) than Azurite 3.37 knows (2026-06-06), which it would refuse with 400.
FLAGS = ("--silent", "--skipApiVersionCheck", "--disableTelemetry")
SERVICES = ("Blob", "Queue", "Table")
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at (https?://\S+)")
_EOF = ("", "")


class AzuriteError(RuntimeError):
    """Azurite could not be run; the message says what to do."""


class AzuriteUnavailableError(AzuriteError):
    """Node.js or the project-local Azurite install is missing."""


@dataclass(frozen=True)
class AzuriteEndpoints:
    blob_url: str
    queue_url: str
    connection_string: str = field(repr=False)
    account_name: str = ACCOUNT_NAME
    account_key: str = field(default=ACCOUNT_KEY, repr=False)


def find_node() -> str:
    """The `node` on PATH, if it is version 20 or newer."""
    node = shutil.which("node")
    if node is None:
        raise AzuriteUnavailableError(NODE_MISSING)
    try:
        version = subprocess.run(  # noqa: S603
            [node, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise AzuriteUnavailableError(f"{NODE_MISSING} ({node} --version failed: {exc})") from None
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise AzuriteUnavailableError(f"{NODE_MISSING} (found {version or 'an unknown version'} at {node})")
    return node


def connection_string(blob_url: str, queue_url: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={blob_url};QueueEndpoint={queue_url};"
    )


def _pump(stream: IO[str], log_path: Path, found: queue.Queue[tuple[str, str]]) -> None:
    """Copies Azurite's output to its log file and reports the listening lines; drains until EOF so the
    child never blocks on a full pipe."""
    with log_path.open("a", encoding="utf-8") as log:
        for line in stream:
            log.write(line)
            log.flush()
            match = _LISTENING.search(line)
            if match:
                found.put((match.group(1), match.group(2)))
    found.put(_EOF)


def _log_tail(log_path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        if tail:
            return "\n".join(tail)
    return "(empty)"


def _wait_ready(found: queue.Queue[tuple[str, str]], timeout: float, log_path: Path) -> dict[str, str]:
    urls: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(urls) < len(SERVICES):
        remaining = deadline - time.monotonic()
        try:
            service, url = found.get(timeout=max(remaining, 0.0)) if remaining > 0 else found.get_nowait()
        except queue.Empty:
            raise AzuriteError(
                f"Azurite did not listen within {timeout:g}s (got {sorted(urls) or 'nothing'}); "
                f"log {log_path}:\n{_log_tail(log_path)}"
            ) from None
        if (service, url) == _EOF:
            raise AzuriteError(f"Azurite exited before it listened; log {log_path}:\n{_log_tail(log_path)}")
        urls[service] = url
    return urls


def stop(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM to the whole process group, then SIGKILL if it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


@contextlib.contextmanager
def run_azurite(workdir: Path, *, timeout: float = 30, azurite_dir: Path = AZURITE_DIR) -> Iterator[AzuriteEndpoints]:
    """Azurite on 127.0.0.1 with kernel-chosen ports and `workdir` as its workspace; stopped on exit."""
    node = find_node()
    entry = azurite_dir / ENTRY_POINT
    if not entry.is_file():
        raise AzuriteUnavailableError(f"{NOT_INSTALLED} ({entry} is missing)")
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "azurite.log"
    ports = [
        arg
        for service in SERVICES
        for arg in (f"--{service.lower()}Host", "127.0.0.1", f"--{service.lower()}Port", "0")
    ]
    command = [node, str(entry), *ports, "--location", str(workdir), *FLAGS]
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    assert process.stdout is not None  # noqa: S101 -- stdout=PIPE above
    found: queue.Queue[tuple[str, str]] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(process.stdout, log_path, found), name="azurite-log", daemon=True)
    pump.start()
    try:
        urls = _wait_ready(found, timeout, log_path)
        blob_url = f"{urls['Blob']}/{ACCOUNT_NAME}"
        queue_url = f"{urls['Queue']}/{ACCOUNT_NAME}"
        yield AzuriteEndpoints(blob_url, queue_url, connection_string(blob_url, queue_url))
    finally:
        stop(process)
        pump.join(timeout=5)
        process.stdout.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir, run_azurite(Path(workdir)) as azurite:
        run_until_signalled(
            {
                "AZURITE_BLOB_URL": azurite.blob_url,
                "AZURITE_QUEUE_URL": azurite.queue_url,
                "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            }
        )


if __name__ == "__main__":
    main()
