"""Reads what is: one app's token list and roles, the versions of each declared slot's secrets and,
when asked, whether each slot's current token still authenticates.

Whatever cannot be read completely is recorded as an error on the `AppState` (never guessed), so the
planner and the audit fail closed for that app. A secret that does not exist is recorded as such
(`SlotState.found`), never as an empty list of versions: the planner must not mistake a deleted
secret for a slot with nothing to protect.

Only what a decision needs is read (docs/protocol.md, "Calls"), in three rounds whose reads run
concurrently on `pool` when one is given (each round needs the one before):

1. the token listing and each slot's secret listing;
2. only when the first round calls for them: the roles (a declared role or a listed token's role that is
   not built-in), the staging listing of a slot (the app lists a managed token no secret version references:
   it may be staged there; or the secret does not show its last promotion finished: `settled`), and the
   confirmation that an empty listing means "no such secret" (the app lists managed tokens of that slot,
   so the slot's doubt depends on it);
3. when asked, the verification of each slot's current token (not of one the run replaces anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from rotation.domain.ids import is_guid
from rotation.domain.model import AppSpec, AppState, AppToken, SecretVersion, SlotSpec, SlotState, VerifyCheck
from rotation.domain.protocol import STAGE_CURRENT, STAGE_PREVIOUS, STAGE_REVOKED
from rotation.domain.roles import ALIAS_BY_ID
from rotation.domain.values import managed_slot_part, parse_managed_id
from rotation.engine.ports import IoTCentralPort, VaultPort
from rotation.errors import RotationError, VerificationError

DEFAULT_VERIFY_PATH = "/api/devices"
T = TypeVar("T")


def run_all(pool: Executor | None, calls: Sequence[Callable[[], T]]) -> list[T]:
    """The calls' results in order: on `pool` concurrently, or one after another without one. The calls
    must not themselves wait on `pool` (a bounded pool whose threads wait on it could deadlock)."""
    if pool is None or len(calls) < 2:
        return [call() for call in calls]
    futures = [pool.submit(call) for call in calls[1:]]
    first = calls[0]()  # the caller's thread does one call itself: it would only wait otherwise
    return [first, *(future.result() for future in futures)]


@dataclass
class _Read:
    """One read's result or the error that stopped it (a round never stops at the first failure)."""

    value: Any = None  # what the call returned (its type is the call's)
    error: RotationError | None = None


def _attempt(call: Callable[[], Any]) -> Callable[[], _Read]:
    def run() -> _Read:
        try:
            return _Read(call())
        except RotationError as exc:
            return _Read(error=exc)

    return run


@dataclass
class _Slot:
    spec: SlotSpec
    listed: bool = False  # its secret's listing succeeded (else nothing more is read for it)
    versions: list[SecretVersion] = field(default_factory=list)
    pending: list[SecretVersion] = field(default_factory=list)


@dataclass
class _Reading:
    """What the rounds gathered so far: errors, the listing, the roles, each slot's versions."""

    slots: list[_Slot]
    errors: list[str] = field(default_factory=list)
    tokens: tuple[AppToken, ...] | None = None
    roles: dict[str, str] = field(default_factory=dict)
    vault_complete: bool = True

    def vault_failed(self, error: RotationError) -> None:
        self.errors.append(str(error))
        self.vault_complete = False

    def state(self, name: str) -> AppState:
        # Key Vault has no secret without a version: an empty listing is a missing secret (`found`), and
        # where the slot's doubt depends on it, the second round has confirmed it (else the vault failed).
        slots = {
            s.spec.slot: SlotState(tuple(s.versions), tuple(s.pending), found=bool(s.versions)) for s in self.slots
        }
        return AppState(name, self.tokens, self.roles, slots, self.vault_complete, tuple(self.errors))


def observe_app(
    spec: AppSpec,
    iotc: IoTCentralPort,
    vault: VaultPort,
    *,
    verify_current: bool = False,
    all_role_names: bool = True,
    pool: Executor | None = None,
    unverified: Callable[[AppState], Collection[str]] = lambda _: (),
) -> AppState:
    """`verify_current`: also call the app with each slot's current token (rotate repairs a current
    token that no longer authenticates; the audit reports it). Revoke does not need it.
    `all_role_names`: list the app's roles even when every role in sight is built-in (the audit judges and
    shows roles by their display names); rotate and revoke pass False. `pool`: runs each round's reads
    concurrently (the caller bounds it; see `rotation.engine.jobs`). `unverified(state)`: the slots whose
    check would decide nothing (rotate replaces their token anyway: `planner.replaced_anyway`)."""
    reading = _Reading([_Slot(s) for s in spec.slots])
    listing, *secrets = run_all(
        pool, [_attempt(iotc.list_tokens), *(_attempt(partial(vault.list_versions, s.secret)) for s in spec.slots)]
    )
    if listing.error is not None:
        reading.errors.append(str(listing.error))
    else:
        reading.tokens = tuple(listing.value)
    for slot, read in zip(reading.slots, secrets, strict=True):
        if read.error is not None:
            reading.vault_failed(read.error)
        else:
            slot.listed, slot.versions = True, list(read.value)
    _second_round(spec, iotc, vault, reading, all_role_names=all_role_names, pool=pool)
    state = reading.state(spec.name)
    if not verify_current or not state.complete:
        return state
    skipped = unverified(state)
    wanted = [s for s in spec.slots if s.slot not in skipped]
    verified = run_all(pool, [partial(verify_slot, s, state, iotc, vault) for s in wanted])
    checks = {s.slot: check for s, check in zip(wanted, verified, strict=True) if check is not None}
    return replace(state, checks=checks)


def _second_round(
    spec: AppSpec,
    iotc: IoTCentralPort,
    vault: VaultPort,
    reading: _Reading,
    *,
    all_role_names: bool,
    pool: Executor | None,
) -> None:
    """The reads the first round calls for (module docstring), all at once."""
    tokens = reading.tokens
    want_roles = tokens is not None and (all_role_names or needs_roles(spec, tokens))
    suspect = {id(s) for s in staged_suspects(reading.slots, tokens)}
    listed = [s for s in reading.slots if s.listed and tokens is not None]
    staged = [s for s in listed if id(s) in suspect or not settled(s.versions)]
    confirm = [s for s in listed if not s.versions and _lists_tokens_of(s.spec, tokens)]
    reads = run_all(
        pool,
        [
            *([_attempt(iotc.list_roles)] if want_roles else []),
            *(_attempt(partial(_staging, vault, s.spec.pending_secret, id(s) in suspect)) for s in staged),
            *(_attempt(partial(vault.confirm_absent, s.spec.secret)) for s in confirm),
        ],
    )
    if want_roles:
        roles, *reads = reads
        if roles.error is not None:
            reading.errors.append(str(roles.error))
            reading.tokens = None  # custom role names cannot be resolved: treat the app as unreadable
        else:
            reading.roles = dict(roles.value)
    for slot, read in zip(staged, reads[: len(staged)], strict=True):
        if read.error is not None:
            reading.vault_failed(read.error)
        else:
            slot.pending = list(read.value or [])
    for read in reads[len(staged) :]:
        if read.error is not None:
            reading.vault_failed(read.error)


def needs_roles(spec: AppSpec, tokens: Iterable[AppToken]) -> bool:
    """The roles listing is needed only to resolve a role that is not built-in: a custom role a slot
    declares (by name, or by a GUID the app must confirm), or one a listed token holds."""
    declared = (r.ref for s in spec.slots for r in s.roles)
    held = (r.role for t in tokens for r in t.roles)
    return any(not _builtin(ref) for ref in (*declared, *held))


def _builtin(ref: str) -> bool:
    return is_guid(ref) and ref.lower() in ALIAS_BY_ID


def _staging(vault: VaultPort, name: str, suspect: bool) -> list[SecretVersion]:
    """A staging secret's versions; an empty listing is confirmed (`read_versions`) only for a `suspect`
    slot, where a listing hiding a staged token would make that token look like an orphan."""
    return (vault.read_versions(name) or []) if suspect else vault.list_versions(name)


def staged_suspects(slots: Sequence[_Slot], tokens: tuple[AppToken, ...] | None) -> list[_Slot]:
    """The slots whose staging secret may hold a token the app lists: the app lists a managed token that
    no secret version references, minted for that slot (or for no declared slot: a renamed slot's tokens
    may be staged under any of them). A crash after minting or staging leaves exactly that. Unreadable
    listing: none (the app is unreadable anyway)."""
    if tokens is None:
        return []
    wanted: list[_Slot] = []
    referenced = {v.token_id for s in slots for v in s.versions if v.token_id}
    parts = {managed_slot_part(s.spec.slot): s for s in slots}
    for token in tokens:
        if not token.managed or token.id in referenced:
            continue
        parsed = parse_managed_id(token.id)
        owner = parts.get(parsed[0]) if parsed is not None else None
        for slot in slots if owner is None else [owner]:
            if not any(slot is w for w in wanted):
                wanted.append(slot)
    return [s for s in slots if any(s is w for w in wanted)]


def settled(versions: Sequence[SecretVersion]) -> bool:
    """The secret alone shows that its last promotion finished, so the staging secret holds nothing to
    repair unless the app lists a token no version names (`staged_suspects`): the newest version is the one
    enabled `current` and the one before it is retired (`previous` or `revoked`). The executor retires the
    old version last (step 6, after the staging version is tagged `promoted`), so an unfinished promotion
    always shows: two versions tagged current, or a first promotion (nothing before it to retire), whose
    staging secret is read on every run until the slot's next promotion. A secret without versions is
    not settled either: its staging secret may hold leftovers to abandon (re-planning after a first
    promotion, which reads it, must find nothing new)."""
    if not versions:
        return False
    newest = versions[-1]
    currents = [v for v in versions if v.enabled and v.stage == STAGE_CURRENT]
    return currents == [newest] and len(versions) > 1 and versions[-2].stage in (STAGE_PREVIOUS, STAGE_REVOKED)


def _lists_tokens_of(slot: SlotSpec, tokens: tuple[AppToken, ...] | None) -> bool:
    part = managed_slot_part(slot.slot)
    return any((parsed := parse_managed_id(t.id)) is not None and parsed[0] == part for t in tokens or ())


def verify_slot(spec: SlotSpec, state: AppState, iotc: IoTCentralPort, vault: VaultPort) -> VerifyCheck | None:
    """Calls the app with the slot's current token (read from the vault), as a consumer would. None when
    there is no current token listed by the app (the planner already says why)."""
    current = state.slots.get(spec.slot, SlotState()).current
    if current is None or current.token_id is None or state.token(current.token_id) is None:
        return None
    try:
        value = vault.get_value(spec.secret, current.version)
    except RotationError as exc:
        return VerifyCheck(state.name, spec.slot, current.token_id, ok=False, error=f"could not read it: {exc}")
    try:
        iotc.verify(value, spec.verify_method, spec.verify_path or DEFAULT_VERIFY_PATH)
    except VerificationError as exc:  # the app answered 401/403 to this very token
        return VerifyCheck(state.name, spec.slot, current.token_id, ok=False, error=str(exc), refused=True)
    except RotationError as exc:
        return VerifyCheck(state.name, spec.slot, current.token_id, ok=False, error=f"could not verify: {exc}")
    return VerifyCheck(state.name, spec.slot, current.token_id, ok=True)
