"""The lifecycle rules of a token, in one home: when it was created, when it is due for renewal, when the
grace of a superseded one ends, when an orphan may go.

The planner acts on these rules and the audit judges by them (IOTC-006, IOTC-009, IOTC-014): both import
them from here, so a slot the planner would not renew is never a finding, and the other way round.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from rotation.domain.model import AppToken, SecretVersion, SlotSpec
from rotation.domain.values import parse_managed_id


@functools.lru_cache(maxsize=1 << 16)
def created_from_id(token_id: str) -> datetime | None:
    """Managed ids carry their creation time (the API returns none). Cached: the audit asks several times
    per token and a fleet lists 100,000 of them (issue 14)."""
    parsed = parse_managed_id(token_id)
    return parsed[1] if parsed else None


def jitter_offset(app: str, slot: str, jitter: float) -> float:
    """A fraction in [0, jitter) fixed per slot, so renewals spread out but stay reproducible."""
    digest = hashlib.sha256(f"{app}/{slot}".encode()).digest()
    return jitter * (int.from_bytes(digest[:4], "big") / 2**32)


@dataclass(frozen=True)
class Renewal:
    """A token's renewal schedule: created, renewed once `threshold` of its lifetime is used, expiring."""

    created: datetime
    expiry: datetime
    threshold: float

    @property
    def lifetime(self) -> timedelta:
        return self.expiry - self.created

    def used(self, now: datetime) -> float:
        """The fraction of its lifetime used at `now` (1.0 for a token with no lifetime)."""
        return (now - self.created) / self.lifetime if self.lifetime > timedelta(0) else 1.0

    @property
    def due(self) -> datetime:
        """The renewal point as a time (what the audit shows)."""
        return self.created + self.lifetime * self.threshold


def renewal(spec: SlotSpec, token: AppToken, version: SecretVersion) -> Renewal:
    """The schedule of the token a version holds. The lifetime is capped by the *declared* one, so a service
    that ignores the requested expiry (undocumented) cannot cause endless re-minting; the threshold is
    `renew_at` minus the slot's jitter."""
    created = created_from_id(token.id) or version.created_on
    expiry = min(e for e in (token.expiry, version.expires_on, created + spec.lifetime) if e is not None)
    return Renewal(created, expiry, spec.renew_at - jitter_offset(spec.app, spec.slot, spec.jitter))


def superseded_since(version: SecretVersion) -> datetime:
    """When a previous version stopped being current (its creation when the tag is missing or unreadable)."""
    return version.superseded_at or version.created_on


def grace_ends(version: SecretVersion, grace: timedelta) -> datetime:
    """Until then a consumer may still hold the superseded token: it is not revoked before."""
    return superseded_since(version) + grace


def within_orphan_window(token_id: str, window: timedelta, now: datetime) -> bool:
    """A managed token younger than the safety window may belong to a rotation in progress (minted, not yet
    staged): it is not an orphan yet. A token whose id carries no creation time is never within it."""
    created = created_from_id(token_id)
    return created is not None and now - created < window
