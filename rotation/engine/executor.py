"""Applies planned actions through the ports, step by step as docs/protocol.md describes, so that a crash
at any line leaves a state the next plan repairs:

mint → stage (`N-pending`, compensate by deleting the new token if staging fails) → verify (retried for
propagation; a definitive failure revokes the new token and abandons the staged version) → promote (new
version of `N` tagged current, then the staged one tagged promoted -- the one record of the promotion that
does not depend on `N` (docs/protocol.md, step 5) -- then the old one tagged previous).

What the run observed is reused (`observed`): the slot's current version before the promotion and a staged
token's listing are not read again; the executor knows the versions it writes itself. With a `pool`, the
actions of different slots run concurrently (nothing in the protocol orders two slots), each slot's in
the planned order, and the app-wide ones (the sweep: no slot) after every slot's.

Every action yields an `Outcome` with its reason; one failure never stops the other actions.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, assert_never

from rotation.domain.model import AppSpec, AppState, AppToken, SecretVersion, SlotSpec, SlotState
from rotation.domain.protocol import (
    CONTENT_TYPE_API_TOKEN,
    STAGE_ABANDONED,
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PROMOTED,
    TAG_REQUESTED_EXPIRY,
    restaged,
    revoked_tags,
    superseded_tags,
    tag_time,
    token_tags,
)
from rotation.domain.secret import Secret
from rotation.domain.values import new_managed_id
from rotation.engine.actions import (
    AbandonPending,
    Action,
    ActionKind,
    Blocked,
    DeleteToken,
    FinishPromotion,
    MarkSuperseded,
    Mint,
    ResumePending,
    Revoke,
)
from rotation.engine.observe import DEFAULT_VERIFY_PATH, run_all
from rotation.engine.ports import IoTCentralPort, VaultPort
from rotation.errors import RotationError, VerificationError

log = logging.getLogger("rotation.executor")

EXPIRY_TOLERANCE = timedelta(minutes=2)
Status = Literal["done", "failed", "skipped"]


@dataclass(frozen=True)
class Outcome:
    app: str
    slot: str | None
    action: ActionKind  # a StrEnum: serialised as its value ("Mint", ...)
    status: Status
    reason: str
    detail: str = ""


@dataclass
class VerifyPolicy:
    """A new token may take a while to be accepted everywhere (the service documents no bound): verification
    is retried for a time `budget` (a slot's `verify: {budget: ...}` overrides it) with a backoff doubling from
    `first_delay` up to `max_delay`, so a slow propagation costs few calls. `clock` and `sleep` are injectable
    (tests advance an emulated clock instead of sleeping); the time spent counts at least the sleeps asked
    for, so a sleep that returns early never makes the loop spin. `attempts` optionally caps the tries too."""

    budget: float = 90.0
    first_delay: float = 0.25
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    attempts: int | None = None


@dataclass
class AppExecutor:
    """Executes one app's actions; apps run in parallel, each through its own executor."""

    spec: AppSpec
    iotc: IoTCentralPort
    vault: VaultPort
    now: Callable[[], datetime]
    rng: random.Random = field(default_factory=random.SystemRandom)
    verify_policy: VerifyPolicy = field(default_factory=VerifyPolicy)
    observed: AppState | None = None  # what this run observed (and planned from) under the app's lock
    pool: Executor | None = None

    def _slot(self, name: str) -> SlotSpec:
        return next(s for s in self.spec.slots if s.slot == name)

    def _tags(self, spec: SlotSpec, token: AppToken, stage: str, extra: Mapping[str, str]) -> dict[str, str]:
        return token_tags(app=spec.app, slot=spec.slot, token_id=token.id, roles=token.roles, stage=stage, extra=extra)

    def run(self, actions: Sequence[Action]) -> list[Outcome]:
        """The outcomes in the planned order, whatever order the slots ran in."""
        by_slot: dict[str, list[int]] = {}
        app_wide: list[int] = []
        for index, action in enumerate(actions):
            (by_slot.setdefault(action.slot, []) if action.slot is not None else app_wide).append(index)
        outcomes: dict[int, Outcome] = {}

        def slot_run(indexes: list[int]) -> None:
            outcomes.update({i: self.outcome(actions[i]) for i in indexes})

        run_all(self.pool, [partial(slot_run, ix) for ix in by_slot.values()])
        slot_run(app_wide)
        return [outcomes[i] for i in range(len(actions))]

    def outcome(self, action: Action) -> Outcome:
        name, slot = action.kind, action.slot
        if isinstance(action, Blocked):
            return Outcome(action.app, action.slot, name, "skipped", action.reason)
        try:
            detail = self.apply(action)
        except RotationError as exc:
            return Outcome(action.app, slot, name, "failed", action.reason, str(exc))
        except Exception as exc:  # noqa: BLE001 -- a bug fails this action, never the outcomes already done
            return Outcome(
                action.app, slot, name, "failed", action.reason, f"internal error: {type(exc).__name__}: {exc}"
            )
        return Outcome(action.app, slot, name, "done", action.reason, detail)

    def apply(self, action: Action) -> str:
        """One action, as the steps of docs/protocol.md; the detail a person reads, or an exception."""
        match action:
            case Mint():
                return self.mint(action)
            case ResumePending():
                return self.resume(action)
            case AbandonPending():
                if action.token_id and action.token_exists:
                    self.iotc.delete_token(action.token_id)
                self.vault.update(
                    self._slot(action.slot).pending_secret, action.version, tags=restaged(action.tags, STAGE_ABANDONED)
                )
                return f"abandoned {action.token_id}"
            case FinishPromotion():
                secret = self._slot(action.slot).pending_secret
                self.vault.update(secret, action.version, tags=restaged(action.tags, STAGE_PROMOTED))
                return "staging version marked promoted"
            case MarkSuperseded():
                secret = self._slot(action.slot).secret
                self.vault.update(secret, action.version, tags=superseded_tags(action.tags, action.superseded_at))
                return f"version {action.version[:8]} tagged previous"
            case Revoke():
                return self.revoke(action)
            case DeleteToken():
                gone = self.iotc.delete_token(action.token_id)
                return f"deleted {action.token_id}" if gone else f"{action.token_id} was already gone"
            case Blocked():
                return "blocked: nothing done"
            case _:
                assert_never(action)

    # -- the protocol ------------------------------------------------------------------------------------
    def mint(self, action: Mint) -> str:
        spec = self._slot(action.slot)
        now = self.now()
        token_id = new_managed_id(spec.slot, now, self.rng)
        requested = now + spec.lifetime
        token, value = self.iotc.create_token(token_id, action.roles, requested)
        expiry = token.expiry or requested
        mismatched = token.expiry_refused or abs(expiry - requested) > EXPIRY_TOLERANCE
        extra = {TAG_REQUESTED_EXPIRY: tag_time(requested)} if mismatched else {}
        staged_tags = self._tags(spec, token, STAGE_PENDING, extra)
        try:
            staged = self.vault.set_value(
                spec.pending_secret, value, tags=staged_tags, expires_on=expiry, content_type=CONTENT_TYPE_API_TOKEN
            )
        except RotationError as exc:
            self._compensate(token_id)
            raise RotationError(f"staging {token_id} failed, new token deleted: {exc}") from None
        self._verify_and_promote(
            spec, token, value, staged_version=staged.version, staged_tags=staged_tags, extra=extra
        )
        mismatch = f"; expiry mismatch: requested {tag_time(requested)}, app set {tag_time(expiry)}" if extra else ""
        if token.expiry_refused:
            mismatch += " (the app refused a requested expiry: it does not honour requested expiries)"
        return f"minted {token_id}, verified, promoted{mismatch}"

    def resume(self, action: ResumePending) -> str:
        spec = self._slot(action.slot)
        value = self.vault.get_value(spec.pending_secret, action.version)
        listed = self.observed.tokens if self.observed is not None else None
        listed = listed if listed is not None else tuple(self.iotc.list_tokens())
        token = next((t for t in listed if t.id == action.token_id), None)
        if token is None:
            raise RotationError(f"staged token {action.token_id}: got nothing in the app, expected it to exist")
        self._verify_and_promote(spec, token, value, staged_version=action.version, staged_tags=action.tags, extra={})
        return f"resumed {action.token_id}, verified, promoted"

    def _compensate(self, token_id: str) -> None:
        with contextlib.suppress(RotationError):  # else the orphan sweep deletes it after its safety window
            self.iotc.delete_token(token_id)

    def _verify(self, spec: SlotSpec, token_id: str, value: Secret) -> None:
        policy = self.verify_policy
        budget = spec.verify_budget.total_seconds() if spec.verify_budget is not None else policy.budget
        start, slept, delay, attempt = policy.clock(), 0.0, policy.first_delay, 0
        while True:
            attempt += 1
            try:
                self.iotc.verify(value, spec.verify_method, spec.verify_path or DEFAULT_VERIFY_PATH)
            except VerificationError:
                elapsed = max(policy.clock() - start, slept)
                if elapsed >= budget or attempt == policy.attempts:
                    log.warning("verification failed token=%s after=%.2fs attempts=%d", token_id, elapsed, attempt)
                    raise
                pause = min(delay, budget - elapsed)
                policy.sleep(pause)
                slept += pause
                delay = min(delay * 2, policy.max_delay)
            else:
                elapsed = max(policy.clock() - start, slept)
                log.info("verified token=%s after=%.2fs attempts=%d", token_id, elapsed, attempt)
                return

    def _verify_and_promote(
        self,
        spec: SlotSpec,
        token: AppToken,
        value: Secret,
        *,
        staged_version: str,
        staged_tags: Mapping[str, str],
        extra: Mapping[str, str],
    ) -> None:
        try:
            self._verify(spec, token.id, value)
        except VerificationError as exc:
            self._compensate(token.id)
            self.vault.update(spec.pending_secret, staged_version, tags=restaged(staged_tags, STAGE_ABANDONED))
            raise VerificationError(
                f"new token {token.id} failed verification, revoked and abandoned; the current token stays: {exc}"
            ) from None
        old = self._current(spec)
        self.vault.set_value(
            spec.secret,
            value,
            tags=self._tags(spec, token, STAGE_CURRENT, extra),
            expires_on=token.expiry,
            content_type=CONTENT_TYPE_API_TOKEN,
        )
        self.vault.update(spec.pending_secret, staged_version, tags=restaged(staged_tags, STAGE_PROMOTED))
        if old is not None:  # last: a retired predecessor of the current version says 5 was done (observe)
            self.vault.update(spec.secret, old.version, tags=superseded_tags(old.tags, self.now()))

    def _current(self, spec: SlotSpec) -> SecretVersion | None:
        """The slot's current version before this promotion: as observed (nothing else changes the app under
        its lock, and no action of this run makes another version current first), else listed now."""
        if self.observed is not None and self.observed.vault_complete and spec.slot in self.observed.slots:
            return self.observed.slots[spec.slot].current
        return SlotState(tuple(self.vault.list_versions(spec.secret))).current

    def revoke(self, action: Revoke) -> str:
        spec = self._slot(action.slot)
        if action.delete and action.token_id:
            gone = self.iotc.delete_token(action.token_id)
            done = f"deleted {action.token_id}" if gone else f"{action.token_id} was already gone"
        else:
            done = f"{action.token_id} not listed by the app: not deleted"
        self.vault.update(spec.secret, action.version, tags=revoked_tags(action.tags, self.now()), enabled=False)
        return f"{done}; version {action.version[:8]} disabled"
