"""The actions the planner decides and the executor applies. Each carries the reason a person reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from rotation.domain.model import RoleAssignment


@dataclass(frozen=True)
class Mint:
    """Mint → stage → verify → promote a new token for a slot."""

    app: str
    slot: str
    reason: str
    roles: frozenset[RoleAssignment]
    supersedes: str | None


@dataclass(frozen=True)
class ResumePending:
    """A staged token from an interrupted run: verify it and promote it."""

    app: str
    slot: str
    reason: str
    version: str
    token_id: str
    tags: Mapping[str, str] = field(default_factory=dict)  # the staged version's tags as observed


@dataclass(frozen=True)
class AbandonPending:
    """A staged token that will not be promoted: delete it from the app, tag the staging version abandoned."""

    app: str
    slot: str
    reason: str
    version: str
    token_id: str | None
    token_exists: bool
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed


@dataclass(frozen=True)
class FinishPromotion:
    """The staged token is already current: only the staging version's tag is left to set."""

    app: str
    slot: str
    reason: str
    version: str
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed


@dataclass(frozen=True)
class MarkSuperseded:
    """An older version still tagged current (a run stopped mid-promotion): tag it previous."""

    app: str
    slot: str
    reason: str
    version: str
    superseded_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed


@dataclass(frozen=True)
class Revoke:
    """A previous version past its grace period: delete its token, then disable the version. `delete` is
    False when the app's listing does not show the token: then the version is only retired, since a token
    missing from a listing is never deleted on the listing's word."""

    app: str
    slot: str
    reason: str
    version: str
    token_id: str | None
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed
    delete: bool = True


@dataclass(frozen=True)
class DeleteToken:
    """A token no live version protects: an orphan, an expired managed token, one whose version was revoked
    but which the app still lists, or an unmanaged one a policy removes."""

    app: str
    reason: str
    token_id: str
    category: Literal["orphan", "expired", "revoked", "unmanaged"]


@dataclass(frozen=True)
class Blocked:
    """A slot the planner cannot act on safely (e.g. a custom role name the app does not know)."""

    app: str
    slot: str | None
    reason: str


RotateAction = Mint | ResumePending | AbandonPending | FinishPromotion | MarkSuperseded | Blocked
RevokeAction = Revoke | DeleteToken | Blocked
Action = RotateAction | RevokeAction
