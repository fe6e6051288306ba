"""Per-app locks (`rotation.engine.ports.AppLock`) so that two runs never change the same app at once: two timer
invocations after a scale-out, a manual `rotation run` during a timer run, a queue message and an inline run.

Azure: a blob lease, one empty blob per app in the host storage account's lease container. The lease is
finite (60 s by default; Azure accepts 15-60 s or infinite) and renewed by a background thread every third
of its duration while the app is worked on, so a holder that dies (instance recycled, process killed) stops
renewing and its lease expires by itself within one duration: never an infinite lease that would need a
human to break it. Released on exit, exceptions included (the caller's `finally`).

Locally: a file lock (filelock, `flock`) in `locks/` of the state folder (ROTATION_STATE_DIR, absolute: every
run of the user finds the same file, from whatever working directory); the operating system drops it when the
holding process dies.

A renewal the service refuses (409/412: the lease was broken or expired and taken by someone else) marks the
lock `lost`; the job then records the app as failed, since another run may have acted on it meanwhile. A
renewal that merely could not reach storage is retried on the next tick until a whole duration has passed
without a successful renewal, which also counts as lost.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobClient, BlobLeaseClient, ContainerClient
from filelock import FileLock, Timeout

from rotation.adapters.storage import ensure_container, storage_error

log = logging.getLogger("rotation.locks")

MIN_LEASE, MAX_LEASE = 15, 60  # seconds, as the Blob service accepts them for a finite lease


@dataclass(frozen=True)
class LeaseOptions:
    """`renew_every` defaults to a third of the duration (two renewals may fail before the lease lapses).
    `on_renew(app, renewals, lost)` is called after each renewal attempt: for tests and telemetry."""

    duration: int = 60
    renew_every: float | None = None
    on_renew: Callable[[str, int, str | None], None] | None = None

    def __post_init__(self) -> None:
        if not MIN_LEASE <= self.duration <= MAX_LEASE:
            raise ValueError(f"lease duration: got {self.duration}, expected {MIN_LEASE} to {MAX_LEASE} seconds")
        if self.renew_every is not None and not 0 < self.renew_every <= self.duration / 2:
            raise ValueError(
                f"lease renewal interval: got {self.renew_every}, expected more than 0 and at most "
                f"half the duration ({self.duration / 2:g} s)"
            )

    @property
    def interval(self) -> float:
        return self.renew_every if self.renew_every is not None else self.duration / 3


def lock_name(app: str, suffix: str, scope: str = "") -> str:
    """A blob or file name for the app (policy app names are slugs already; anything else is replaced).
    `scope` (the app's base URL for file locks) keeps two local worlds that reuse app names apart, e.g. two
    test runs against different emulators in one working tree."""
    tag = f"-{hashlib.sha256(scope.encode()).hexdigest()[:10]}" if scope else ""
    return re.sub(r"[^A-Za-z0-9._-]", "_", app) + tag + suffix


class BlobLeaseLocks:
    """Makes the per-app blob leases of one container; creates the container on first use."""

    def __init__(self, container: ContainerClient, options: LeaseOptions | None = None) -> None:
        self._container = container
        self._options = options or LeaseOptions()
        self._ready = False
        self._guard = threading.Lock()

    def lock(self, app: str) -> BlobLease:
        return BlobLease(app, self._container.get_blob_client(lock_name(app, ".lease")), self._options, self._ensure)

    def close(self) -> None:
        self._container.close()

    def _ensure(self) -> None:
        with self._guard:
            if self._ready:
                return
            ensure_container(self._container, "lease")
            self._ready = True


def _held_elsewhere(exc: HttpResponseError) -> bool:
    """Whether creating the lease blob was refused because another run holds its lease. Real Blob Storage
    checks the lease before `If-None-Match: *`, so an upload to a leased blob answers 412 LeaseIdMissing
    (Azurite answers 409 instead, Azurite issue #2637); any 409 on that upload is a blob that exists."""
    code = getattr(exc, "error_code", None)  # the SDK's StorageErrorCode, a str enum
    return exc.status_code == 409 or (exc.status_code == 412 and code == "LeaseIdMissing")


class BlobLease:
    def __init__(self, app: str, blob: BlobClient, options: LeaseOptions, ensure: Callable[[], None]) -> None:
        self.name = app
        self.renewals = 0
        self._blob = blob
        self._options = options
        self._ensure = ensure
        self._lease: BlobLeaseClient | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: str | None = None

    @property
    def lost(self) -> str | None:
        return self._lost

    def try_acquire(self) -> bool:
        """False when another run holds the lease; `ServiceError` when storage cannot say (fail closed)."""
        self._ensure()
        try:
            self._blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass  # made by an earlier run; leased or not, the acquire below decides
        except HttpResponseError as exc:
            if _held_elsewhere(exc):
                return False
            raise storage_error(f"create lease blob {self._blob.blob_name}", exc) from None
        except AzureError as exc:
            raise storage_error(f"create lease blob {self._blob.blob_name}", exc) from None
        lease = BlobLeaseClient(self._blob)
        try:
            lease.acquire(lease_duration=self._options.duration)
        except HttpResponseError as exc:
            if exc.status_code == 409:
                return False
            raise storage_error(f"acquire lease {self._blob.blob_name}", exc) from None
        except AzureError as exc:
            raise storage_error(f"acquire lease {self._blob.blob_name}", exc) from None
        self._lease = lease
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def _renew_loop(self) -> None:
        assert self._lease is not None  # noqa: S101 -- started by try_acquire after the lease was taken
        last_ok = time.monotonic()
        while not self._stop.wait(self._options.interval):
            try:
                self._lease.renew()
                self.renewals += 1
                last_ok = time.monotonic()
            except HttpResponseError as exc:
                if exc.status_code in (409, 412):
                    code = getattr(exc, "error_code", None) or ""
                    self._lost = f"renewal refused: HTTP {exc.status_code} {code}".strip()
                else:
                    log.warning("lease %s: renewal failed (HTTP %s), retrying", self.name, exc.status_code)
            except AzureError as exc:
                log.warning("lease %s: renewal failed (%s), retrying", self.name, type(exc).__name__)
            if self._lost is None and time.monotonic() - last_ok >= self._options.duration:
                self._lost = f"no successful renewal for {self._options.duration} s"
            if self._options.on_renew is not None:
                self._options.on_renew(self.name, self.renewals, self._lost)
            if self._lost is not None:
                log.error("lease %s lost while working: %s", self.name, self._lost)
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        lease, self._lease = self._lease, None
        if lease is None or self._lost is not None:
            return
        try:
            lease.release()
        except AzureError as exc:  # it expires by itself within one duration
            log.warning(
                "lease %s: release failed (%s); it expires within %s s",
                self.name,
                type(exc).__name__,
                self._options.duration,
            )


class FileLocks:
    """Local runs: one lock file per app under `folder` (`locks/` of the absolute state folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lock(self, app: str, scope: str = "") -> FileAppLock:
        return FileAppLock(app, self.folder / lock_name(app, ".lock", scope))

    def close(self) -> None:
        """Nothing to close: each lock closes its file on release."""


class FileAppLock:
    lost: str | None = None  # a file lock cannot be lost while its process lives

    def __init__(self, app: str, path: Path) -> None:
        self.name = app
        self.path = path
        # thread_local=False: run_job acquires and releases on the same worker thread, but the lock is an
        # object handed around, not thread state.
        self._lock = FileLock(path, timeout=0, thread_local=False)

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()
