"""Stateful property test of the rotation protocol: the real planner and executor, run after run, against
the in-memory ports (`rotation.engine.memory`) while time passes, people delete and create tokens, delete secrets
and disable versions by hand, policies change (roles, lifetime, vault, secret name) and listings lie.

Invariants, after every step (each violation is recorded when it happens and asserted right after):
(c) no token is deleted, unless expired, while it is the token of the current version of a declared slot
    secret (live or soft-deleted: a recovery brings it back) or of a superseded version (`previous`, or
    `revoked` early; enabled or not) within grace -- judged inside the in-memory port at the deletion;
(a) after a revoke run with a truthful, complete observation, not held back by a Blocked, in which every
    declared secret and staging secret existed, no managed token is left that no version of them
    references (any stage, enabled or not), that was created the orphan safety window ago or more and, when
    it was minted for a declared slot, whose slot's current version has been current for the slot's grace
    (the orphan may be a token a consumer still holds from a secret the policy no longer names; see
    docs/protocol.md) -- a revoke held back by doubt is not asked to sweep;
(b) after a rotate run with a truthful, complete observation, every slot that is neither Blocked nor
    behind a soft-deleted secret (writes refused with 409) has a current version whose value authenticates
    and whose token has the policy's roles;
(d) an unmanaged token is never deleted (no policy here sets remove_unmanaged);
(replan) a run after a clean run (truthful, complete, nothing failed) plans nothing but Blocked;
(lie) a run under a lie never deletes a token that the same run with the truth (replayed first on a copy
    of the world) would not delete.

Profiles: `ROTATION_STATEFUL_PROFILE=ci` (the default, 500 examples) or `dev` (50, for a quick loop).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rotation.domain.assignments import resolve_roles
from rotation.domain.model import AppToken, RoleAssignment, SlotState
from rotation.domain.values import managed_slot_part, parse_managed_id
from rotation.engine.actions import Blocked
from tests.unit.protocol_world import (
    APP_ROLES,
    LIFETIMES,
    OPERATOR,
    ROLE_CHOICES,
    SECRETS,
    SLOTS,
    VAULTS,
    WINDOW,
    Job,
    Run,
    World,
    all_declared_exist,
    initial_spec,
    plan,
    protected,
    referenced,
    run,
    versions,
)

settings.register_profile(
    "protocol-ci", max_examples=500, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("protocol-dev", settings.get_profile("protocol-ci"), max_examples=50)

LIES = ("omit-token", "fail-token-listing", "fail-vault-listing")
HOURS = (1, 2, 6, 12, 24, 72, 240)
WHICH = ("secret", "staging")
INVARIANTS = ("c-current", "c-superseded", "a", "b", "d", "replan", "lie")


class ProtocolMachine(RuleBasedStateMachine):
    @initialize()
    def deploy(self) -> None:
        """A fresh app with one person's token; the service is deployed and runs once."""
        self.world = World.new()
        self.spec = initial_spec()
        self.seed = 0
        self.people = 0
        self.telling = ""  # the lie of the run under way, for the messages
        self.log: list[str] = []  # what each run planned and what failed (notes of a failing example)
        self.violations: dict[str, list[str]] = {k: [] for k in INVARIANTS}
        self.world.iotc.delete_observers.append(self._on_delete)
        self._job("rotate", "none", 0)

    # -- (c) and (d), judged inside the port at the moment of each deletion ---------------------------------
    def _on_delete(self, token: AppToken) -> None:
        now = self.world.clock.now()
        why = protected(self.world, self.spec).get(token.id)
        if why is not None and (token.expiry is None or token.expiry > now):
            kind = "c-current" if why.startswith("current") else "c-superseded"
            self.violations[kind].append(
                f"deleted {token.id} at {now} ({self.telling or 'truth'}) while it was the {why}"
            )
        if not token.managed:
            self.violations["d"].append(f"deleted unmanaged {token.id}")

    # -- runs -----------------------------------------------------------------------------------------------
    def _lie(self, lie: str, pick: int) -> str:
        tokens = list(self.world.iotc.tokens())
        if lie == "omit-token" and tokens:
            self.world.iotc.omit_from_next_listing(tokens[pick % len(tokens)])
            return f"listing omits {tokens[pick % len(tokens)]}"
        if lie == "fail-token-listing":
            self.world.iotc.fail_next_listing()
            return "token listing fails"
        if lie == "fail-vault-listing":
            secret = self.spec.slots[pick % len(self.spec.slots)].secret
            self.world.vaults[self.spec.vault].fail_next_listing(secret)
            return f"listing of {secret} fails"
        return ""

    def _job(self, job: Job, lie: str, pick: int) -> None:
        self.seed += 1
        before = set(self.world.iotc.tokens())
        truth: Run | None = None
        if lie != "none":  # the same run with the truth first, on a copy of the world, to judge the lie against
            twin = self.world.copy()
            truth = run(job, self.spec, twin, self.seed)
            truth_deleted = {d.token_id for d in twin.iotc.deletions}
        told = self.telling = self._lie(lie, pick)
        deletions = len(self.world.iotc.deletions)
        done = run(job, self.spec, self.world, self.seed)
        self.telling = ""
        self.log.append(f"[{self.world.clock.now():%Y-%m-%d %H:%M}] {told or 'truth'}\n{done.summary()}")
        if currently_in_test_context():
            note(self.log[-1])
        deleted = {d.token_id for d in self.world.iotc.deletions[deletions:]} & before
        if told and truth is not None:
            extra = sorted(deleted - truth_deleted)
            if extra:
                self.violations["lie"].append(
                    f"{job} under lie ({told}) deleted {extra}; with the truth it would not:\n{truth.summary()}"
                )
        elif not told:
            self._judge(job, done)

    def _judge(self, job: Job, done: Run) -> None:
        held_back = any(isinstance(a, Blocked) for a in done.planned)  # the service said it doubts
        if job == "revoke" and done.state.complete and not held_back and all_declared_exist(self.world, self.spec):
            self._check_swept()
        if job == "rotate" and done.state.complete:
            self._check_authenticates(done)
        if done.clean:
            again = [a for a in plan(job, self.spec, self.world).planned if not isinstance(a, Blocked)]
            if again:
                self.violations["replan"].append(f"{job} after a clean {job} plans {again}")

    def _check_swept(self) -> None:
        now = self.world.clock.now()
        refs = referenced(self.world, self.spec)
        for token_id in self.world.iotc.tokens():
            parsed = parse_managed_id(token_id)
            if parsed is not None and token_id not in refs and self._orphan_due(parsed[0], parsed[1], now):
                self.violations["a"].append(f"{token_id} (created {parsed[1]}) unreferenced yet alive at {now}")

    def _orphan_due(self, slot_part: str, created: datetime, now: datetime) -> bool:
        if created + WINDOW > now:
            return False
        spec = next((s for s in self.spec.slots if managed_slot_part(s.slot) == slot_part), None)
        if spec is None:
            return True
        current = SlotState(tuple(versions(self.world, self.spec, spec.secret))).current
        return current is not None and current.created_on + spec.grace <= now

    def _check_authenticates(self, done: Run) -> None:
        vault = self.world.vaults[self.spec.vault]
        for slot in self.spec.slots:
            if done.blocked(slot.slot) or vault.is_deleted(slot.secret) or vault.is_deleted(slot.pending_secret):
                continue
            held = versions(self.world, self.spec, slot.secret)
            current = SlotState(tuple(held)).current
            token = self.world.iotc.tokens().get(current.token_id or "") if current else None
            if current is None or token is None:
                self.violations["b"].append(f"{slot.slot}: no current version with a live token after rotate")
                continue
            try:
                self.world.iotc.verify(vault.get_value(slot.secret, current.version), "GET", "/api/devices")
            except Exception as exc:  # noqa: BLE001 -- any failure to authenticate is the finding
                self.violations["b"].append(f"{slot.slot}: current {token.id} does not authenticate: {exc}")
            want = resolve_roles(slot, APP_ROLES)
            if token.roles != want:
                self.violations["b"].append(f"{slot.slot}: current {token.id} has roles {token.roles}, policy {want}")

    @rule()
    def rotate(self) -> None:
        self._job("rotate", "none", 0)

    @rule()
    def revoke(self) -> None:
        self._job("revoke", "none", 0)

    @rule(lie=st.sampled_from(LIES), pick=st.integers(0, 7))
    def rotate_under_lie(self, lie: str, pick: int) -> None:
        """`pick` chooses the token a listing omits (in creation order) or the slot whose listing fails."""
        self._job("rotate", lie, pick)

    @rule(lie=st.sampled_from(LIES), pick=st.integers(0, 7))
    def revoke_under_lie(self, lie: str, pick: int) -> None:
        self._job("revoke", lie, pick)

    @rule(hours=st.sampled_from(HOURS))
    def time_passes(self, hours: int) -> None:
        self.world.clock.advance(timedelta(hours=hours))

    # -- people -------------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.world.iotc.tokens()))
    @rule(pick=st.integers(0, 7))
    def person_deletes_token(self, pick: int) -> None:
        tokens = list(self.world.iotc.tokens())
        self.world.iotc.remove_token(tokens[pick % len(tokens)])

    @rule()
    def person_creates_token(self) -> None:
        self.people += 1
        self.world.iotc.add_token(
            f"human-{self.people}", frozenset({RoleAssignment(OPERATOR)}), self.world.clock.now() + timedelta(days=30)
        )

    def _secret(self, slot: str, which: str) -> str:
        spec = next(s for s in self.spec.slots if s.slot == slot)
        return spec.secret if which == "secret" else spec.pending_secret

    @rule(slot=st.sampled_from(SLOTS), which=st.sampled_from(WHICH), purge=st.booleans())
    def person_deletes_secret(self, slot: str, which: str, purge: bool) -> None:
        name = self._secret(slot, which)
        vault = self.world.vaults[self.spec.vault]
        if vault.versions(name) is not None:
            vault.delete_secret(name, purge=purge)

    @rule(slot=st.sampled_from(SLOTS), which=st.sampled_from(WHICH))
    def person_recovers_secret(self, slot: str, which: str) -> None:
        name = self._secret(slot, which)
        vault = self.world.vaults[self.spec.vault]
        if vault.is_deleted(name):
            vault.recover_secret(name)

    @rule(slot=st.sampled_from(SLOTS), pick=st.integers(0, 7))
    def person_disables_version(self, slot: str, pick: int) -> None:
        name = self._secret(slot, "secret")
        held = [v for v in versions(self.world, self.spec, name) if v.enabled]
        if held:
            version = held[-1 - pick % len(held)]  # 0: the newest, usually the current one
            self.world.vaults[self.spec.vault].update(name, version.version, enabled=False)

    # -- policy edits -------------------------------------------------------------------------------------
    def _edit_slot(self, slot: str, **changes: Any) -> None:
        """A policy edit: the next runs see the new declaration (what the vault and the app hold stays)."""
        self.spec = replace(
            self.spec, slots=tuple(replace(s, **changes) if s.slot == slot else s for s in self.spec.slots)
        )

    @rule(slot=st.sampled_from(SLOTS), roles=st.sampled_from(sorted(ROLE_CHOICES)))
    def edit_roles(self, slot: str, roles: str) -> None:
        self._edit_slot(slot, roles=ROLE_CHOICES[roles])

    @rule(slot=st.sampled_from(SLOTS), lifetime=st.sampled_from(LIFETIMES))
    def edit_lifetime(self, slot: str, lifetime: timedelta) -> None:
        self._edit_slot(slot, lifetime=lifetime)

    @rule(slot=st.sampled_from(SLOTS), moved=st.booleans())
    def edit_secret_name(self, slot: str, moved: bool) -> None:
        self._edit_slot(slot, secret=SECRETS[slot][int(moved)])

    @rule(vault=st.sampled_from(VAULTS))
    def edit_vault(self, vault: str) -> None:
        self.spec = replace(self.spec, vault=vault)

    # -- invariants ----------------------------------------------------------------------------------------
    @invariant()
    def invariants_hold(self) -> None:
        """One assertion per invariant, each on its own line, so hypothesis reports each one apart."""
        found = self.violations
        assert not found["lie"], found["lie"]
        assert not found["c-current"], found["c-current"]
        assert not found["c-superseded"], found["c-superseded"]
        assert not found["a"], found["a"]
        assert not found["b"], found["b"]
        assert not found["d"], found["d"]
        assert not found["replan"], found["replan"]


PROFILE = "protocol-" + os.environ.get("ROTATION_STATEFUL_PROFILE", "ci")
ProtocolMachine.TestCase.settings = settings.get_profile(PROFILE)
TestProtocol = ProtocolMachine.TestCase


# -- the minimal failing sequences hypothesis found, replayed as plain tests (each names its finding) --------
def _machine() -> ProtocolMachine:
    machine = ProtocolMachine()
    machine.deploy()
    return machine


def test_replay_soft_deleted_secret_keeps_its_current_token() -> None:
    """An empty listing of a slot secret someone deleted (recoverable) is doubt, not proof of an orphan."""
    machine = _machine()
    machine.person_deletes_secret(slot="s0", which="secret", purge=False)
    machine.time_passes(hours=1)
    machine.revoke()
    machine.invariants_hold()


def test_replay_listing_that_omits_a_superseded_token_inside_grace() -> None:
    """Absent from one listing is not gone: the superseded token is still inside its grace period."""
    machine = _machine()
    machine.rotate_under_lie(lie="omit-token", pick=1)  # s0's current is 'missing': a new one is minted
    machine.revoke_under_lie(lie="omit-token", pick=1)  # the superseded one, omitted again
    machine.invariants_hold()


def test_replay_previous_version_disabled_by_hand_inside_grace() -> None:
    """A person disabling a previous version does not make its token an orphan ('no version references it')."""
    machine = _machine()
    machine.edit_roles(slot="s0", roles="builder")
    machine.time_passes(hours=3)
    machine.rotate()  # roles drift: s0 gets a new token, the old one is previous for 6 h
    machine.time_passes(hours=1)
    machine.person_disables_version(slot="s0", pick=1)
    machine.revoke()
    machine.invariants_hold()


def test_replay_expired_staged_token_is_not_resumed() -> None:
    """A token staged by an interrupted run that has expired since cannot be promoted: mint instead."""
    machine = _machine()
    machine.person_deletes_secret(slot="s0", which="secret", purge=False)
    machine.time_passes(hours=1)
    machine.rotate()  # staged, promotion refused (409: the name is soft-deleted)
    machine.time_passes(hours=240)
    machine.person_recovers_secret(slot="s0", which="secret")
    machine.rotate()
    machine.invariants_hold()


def test_replay_staged_token_already_due_is_not_resumed() -> None:
    """Resuming a staged token that the policy already wants renewed leaves a slot the next run re-mints."""
    machine = _machine()
    machine.person_deletes_secret(slot="s0", which="secret", purge=False)
    machine.time_passes(hours=1)
    machine.rotate()  # staged, promotion refused (409: the name is soft-deleted)
    machine.time_passes(hours=72)
    machine.time_passes(hours=72)  # 6 of the 7 days: past renew_at (67 %), not expired
    machine.person_recovers_secret(slot="s0", which="secret")
    machine.rotate()
    machine.invariants_hold()
