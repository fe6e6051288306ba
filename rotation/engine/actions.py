"""The actions the planner decides and the executor applies. Each carries the reason a person reads.

Every action is an `ActionBase` with a stable `kind` (`ActionKind`): the name outcomes, logs, metrics and
the CLI's JSON show (docs/protocol.md, "Action kinds"), so renaming a class never changes the output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from rotation.domain.model import RoleAssignment


class ActionKind(StrEnum):
    """The stable names of what the engine does, as outcomes and JSON carry them."""

    MINT = "Mint"
    RESUME_PENDING = "ResumePending"
    ABANDON_PENDING = "AbandonPending"
    FINISH_PROMOTION = "FinishPromotion"
    MARK_SUPERSEDED = "MarkSuperseded"
    REVOKE = "Revoke"
    DELETE_TOKEN = "DeleteToken"  # noqa: S105 -- an action name, not a secret
    BLOCKED = "Blocked"
    REVOKE_NOW = "RevokeNow"  # an operator's `rotation revoke-now` (not planned)
    LEASE = "Lease"  # the app's lock: held elsewhere, or lost while working (not planned)


class ActionBase:
    """What every action has: its kind, its app, the slot it concerns (None: the app as a whole, or a token
    of no slot) and the reason a person reads. The subclasses are frozen dataclasses."""

    kind: ClassVar[ActionKind]
    app: str
    slot: str | None
    reason: str


@dataclass(frozen=True)
class Mint(ActionBase):
    """Mint → stage → verify → promote a new token for a slot."""

    kind: ClassVar[ActionKind] = ActionKind.MINT
    app: str
    slot: str
    reason: str
    roles: frozenset[RoleAssignment]
    supersedes: str | None


@dataclass(frozen=True)
class ResumePending(ActionBase):
    """A staged token from an interrupted run: verify it and promote it."""

    kind: ClassVar[ActionKind] = ActionKind.RESUME_PENDING
    app: str
    slot: str
    reason: str
    version: str
    token_id: str
    tags: Mapping[str, str] = field(default_factory=dict)  # the staged version's tags as observed


@dataclass(frozen=True)
class AbandonPending(ActionBase):
    """A staged token that will not be promoted: delete it from the app, tag the staging version abandoned."""

    kind: ClassVar[ActionKind] = ActionKind.ABANDON_PENDING
    app: str
    slot: str
    reason: str
    version: str
    token_id: str | None
    token_exists: bool
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed


@dataclass(frozen=True)
class FinishPromotion(ActionBase):
    """The staged token is already current: only the staging version's tag is left to set."""

    kind: ClassVar[ActionKind] = ActionKind.FINISH_PROMOTION
    app: str
    slot: str
    reason: str
    version: str
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed


@dataclass(frozen=True)
class MarkSuperseded(ActionBase):
    """An older version still tagged current (a run stopped mid-promotion): tag it previous."""

    kind: ClassVar[ActionKind] = ActionKind.MARK_SUPERSEDED
    app: str
    slot: str
    reason: str
    version: str
    superseded_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed


@dataclass(frozen=True)
class Revoke(ActionBase):
    """A previous version past its grace period: delete its token, then disable the version. `delete` is
    False when the app's listing does not show the token: then the version is only retired, since a token
    missing from a listing is never deleted on the listing's word."""

    kind: ClassVar[ActionKind] = ActionKind.REVOKE
    app: str
    slot: str
    reason: str
    version: str
    token_id: str | None
    tags: Mapping[str, str] = field(default_factory=dict)  # the version's tags as observed
    delete: bool = True


@dataclass(frozen=True)
class DeleteToken(ActionBase):
    """A token no live version protects: an orphan, an expired managed token, one whose version was revoked
    but which the app still lists, or an unmanaged one a policy removes."""

    kind: ClassVar[ActionKind] = ActionKind.DELETE_TOKEN
    app: str
    reason: str
    token_id: str
    category: Literal["orphan", "expired", "revoked", "unmanaged"]
    slot: str | None = None  # the sweep deletes tokens of the app, not of one slot


@dataclass(frozen=True)
class Blocked(ActionBase):
    """A slot the planner cannot act on safely (e.g. a custom role name the app does not know)."""

    kind: ClassVar[ActionKind] = ActionKind.BLOCKED
    app: str
    slot: str | None
    reason: str


RotateAction = Mint | ResumePending | AbandonPending | FinishPromotion | MarkSuperseded | Blocked
RevokeAction = Revoke | DeleteToken | Blocked
Action = RotateAction | RevokeAction
