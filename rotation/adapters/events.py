"""Where manual-action events are kept (`rotation.domain.events`): append-only, beside the audit runs.

Locally `<reports_dir>/events/<YYYYMMDD>.jsonl`: one JSON object per line, appended and fsynced, so an
event survives the process that wrote it. In Blob Storage (when the reports store is configured) one blob
per event, `events/<YYYYMMDD>/<event id>.json`, written once (`overwrite=False`): the reports container's
time-based immutability policy applies to it as to the runs. Reading returns the events at or after a
moment; anything unreadable raises (the audit fails closed on it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from rotation.adapters.storage import ensure_container, storage_error
from rotation.domain.events import ManualEvent, day_of
from rotation.errors import ServiceError

PREFIX = "events/"


def _days(since: datetime, until: datetime) -> Iterator[str]:
    day = since
    while day_of(day) <= day_of(until):
        yield day_of(day)
        day += timedelta(days=1)


class LocalEventLog:
    """`<root>/events/<YYYYMMDD>.jsonl`, one file per UTC day of the event."""

    def __init__(self, reports_dir: Path) -> None:
        self.root = reports_dir / "events"

    def append(self, event: ManualEvent) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{day_of(event.at)}.jsonl"
        line = json.dumps(event.to_json(), sort_keys=True) + "\n"
        with path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
        return str(path)

    def since(self, moment: datetime, until: datetime) -> list[ManualEvent]:
        events = []
        for day in _days(moment, until):
            path = self.root / f"{day}.jsonl"
            if not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    events.append(ManualEvent.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ServiceError(
                        f"{path}:{number}: got an unreadable event ({exc}), expected one JSON event"
                    ) from None
        return [e for e in events if e.at >= moment]


class BlobEventLog:
    """`events/<YYYYMMDD>/<event id>.json` in the reports container, each blob written once."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self.location = f"{container.url}/{PREFIX}"

    def close(self) -> None:
        self._container.close()

    def append(self, event: ManualEvent) -> str:
        name = f"{PREFIX}{day_of(event.at)}/{event.id}.json"
        data = json.dumps(event.to_json(), sort_keys=True).encode()
        ensure_container(self._container, "reports")
        try:
            self._container.upload_blob(
                name, data, overwrite=False, content_settings=ContentSettings(content_type="application/json")
            )
        except AzureError as exc:
            raise storage_error(f"upload {name}", exc) from None
        return f"{self.location}{name[len(PREFIX) :]}"

    def since(self, moment: datetime, until: datetime) -> list[ManualEvent]:
        first = f"{PREFIX}{day_of(moment)}/"
        events = []
        try:
            names = sorted(b.name for b in self._container.list_blobs(name_starts_with=PREFIX) if b.name >= first)
            for name in names:
                data = self._container.download_blob(name).readall()
                try:
                    events.append(ManualEvent.from_json(json.loads(data)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ServiceError(f"{name}: got an unreadable event ({exc}), expected one JSON event") from None
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            raise storage_error("list the manual-action events", exc) from None
        return [e for e in events if e.at >= moment]
