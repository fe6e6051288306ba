"""In-memory implementations of the ports (`IoTCentralPort`, `VaultPort`): pure Python, no I/O, with the
rules of the real services the protocol depends on, so the real executor runs against them unchanged.

- IoT Central: unique token ids (409 on an existing id), delete of a missing id is a 404 (False), a value
  authenticates only while its token exists and has not expired, listings in creation order.
- Key Vault: every write is a new version (created on the shared clock, to the second); a PATCH replaces
  the tags as a whole; a disabled version reads as 403; a deleted secret is soft-deleted: it lists as
  nothing, reads as 404 and refuses a new version with 409 until recovered or purged (by hand, or after
  the retention period). Knobs make the next listing lie (omit a token) or fail (`IncompleteListingError`).
Values stay plain strings inside the fake services, as in the real ones, and leave only as `Secret`.
"""

from __future__ import annotations

from rotation.engine.memory_clock import ManualClock
from rotation.engine.memory_iotc import Deletion, InMemoryIoTCentral
from rotation.engine.memory_vault import InMemoryVault

__all__ = ["Deletion", "InMemoryIoTCentral", "InMemoryVault", "ManualClock"]
