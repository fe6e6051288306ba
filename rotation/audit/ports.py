"""What the audit job needs from its host, as Protocols: the audit sits below hosting and adapters (see the
import-linter contracts in pyproject.toml), so it names the shape of the runtime, the clients and the blob
store instead of importing them. `rotation.hosting.runtime.Runtime` and `rotation.adapters.blobstore.
BlobReportStore` implement them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from rotation.audit.report.retention import Retention
from rotation.domain.events import ManualEvent
from rotation.domain.model import AppSpec, IottlyAppSpec
from rotation.engine.ports import IoTCentralPort, IottlyPort, VaultPort


class ReportStore(Protocol):
    """Where finished run folders are published and the previous run is read back (Blob Storage)."""

    def publish(self, run_dir: Path) -> list[str]:
        """Uploads the run folder's files; returns their names. Raises RotationError on failure."""
        ...

    def latest(self, file_name: str, before: str) -> tuple[str, Any] | None:
        """(run id, parsed JSON of `file_name`) of the newest stored run older than `before`."""
        ...

    def run_ids(self, file_name: str, before: str) -> list[str]:
        """Ids of the stored runs older than `before` that hold `file_name`, oldest first."""
        ...

    def read_json(self, run_id: str, file_name: str) -> Any | None:
        """The parsed JSON of one stored run's file, None when that run has no such file."""
        ...

    def read_lines(self, run_id: str, file_name: str) -> Iterable[str] | None:
        """One stored run's text file line by line, never downloaded whole; None when it has no such file."""
        ...

    def close(self) -> None: ...


class PoisonedApp(Protocol):
    """Poisoned fan-out messages of one app and job."""

    @property
    def app(self) -> str: ...
    @property
    def job(self) -> str: ...
    @property
    def count(self) -> int: ...


class AuditSettings(Protocol):
    """The settings the audit job reads."""

    @property
    def max_concurrency(self) -> int: ...
    @property
    def fanout(self) -> str: ...
    @property
    def fail_on(self) -> str: ...
    @property
    def reports_dir(self) -> Path: ...
    @property
    def reports_keep(self) -> Retention | None: ...


class AuditRuntime(Protocol):
    """The audit's view of `rotation.hosting.runtime.Runtime`."""

    @property
    def settings(self) -> AuditSettings: ...
    @property
    def apps(self) -> Sequence[AppSpec]: ...
    @property
    def iottly_apps(self) -> Sequence[IottlyAppSpec]: ...

    def now(self) -> datetime: ...
    def iotcentral(self, app: AppSpec) -> IoTCentralPort: ...
    def vault(self, url: str) -> VaultPort: ...
    def iottly(self, base_url: str) -> IottlyPort: ...
    def report_store(self) -> ReportStore | None: ...

    def manual_events(self, since: datetime) -> Sequence[ManualEvent]:
        """Manual actions (revoke-now, rotate --now, import, bootstrap) on the audited apps since `since`;
        raises RotationError when the event store cannot be read."""
        ...

    def poison_entries(self) -> Sequence[PoisonedApp]:
        """What the queue fan-out gave up on; raises RotationError when the poison queue cannot be read."""
        ...
