"""Each step of the revocation decision (`rotation.engine.revocation`) on its own: doubt, the sweep's
precondition, the protected set, per-slot revocations, the sweep and its orphan rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rotation.domain.model import (
    AppSpec,
    AppState,
    AppToken,
    RoleAssignment,
    SecretVersion,
    SlotRole,
    SlotSpec,
    SlotState,
)
from rotation.domain.protocol import (
    STAGE_ABANDONED,
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    STAGE_REVOKED,
    TAG_STAGE,
    TAG_SUPERSEDED_AT,
    TAG_TOKEN_ID,
)
from rotation.engine.actions import ActionKind, Blocked, DeleteToken, Revoke
from rotation.engine.revocation import (
    doubts,
    orphan_reason,
    protected,
    revoke_reason,
    slot_doubt,
    slot_of,
    slot_revocations,
    sweep,
    sweep_allowed,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ROLES = frozenset({RoleAssignment(OPERATOR)})
GRACE = timedelta(hours=24)


def _slot(name: str) -> SlotSpec:
    return SlotSpec(
        app="app",
        slot=name,
        secret=f"iotc-app-{name}",
        roles=(SlotRole(OPERATOR),),
        lifetime=timedelta(days=30),
        renew_at=0.67,
        grace=GRACE,
        max_lifetime=timedelta(days=90),
    )


READER = _slot("reader")
APP = AppSpec(
    name="app", base_url="https://app.azureiotcentral.com", vault="https://kv.vault.azure.net", slots=(READER,)
)


def _tid(created: datetime, suffix: str = "ab12", slot: str = "reader") -> str:
    return f"rot-{slot}-{created:%Y%m%d%H%M%S}-{suffix}"


def _token(token_id: str, expiry: datetime | None = None) -> AppToken:
    return AppToken(token_id, ROLES, expiry or NOW + timedelta(days=20))


def _version(
    token_id: str,
    created: datetime,
    stage: str = STAGE_CURRENT,
    *,
    enabled: bool = True,
    superseded: datetime | None = None,
    n: str = "1",
    secret: str = READER.secret,
) -> SecretVersion:
    tags = {TAG_STAGE: stage, TAG_TOKEN_ID: token_id}
    if superseded is not None:
        tags[TAG_SUPERSEDED_AT] = superseded.isoformat()
    return SecretVersion(secret, n, created, enabled, None, tags)


def _state(tokens: list[AppToken], slot: SlotState | None = None) -> AppState:
    return AppState("app", tuple(tokens), {OPERATOR: "Operator"}, {} if slot is None else {"reader": slot})


CUR = _tid(NOW - 2 * HOUR, "cur1")
OLD = _tid(NOW - 40 * HOUR, "old1")


def _healthy(*extra: SecretVersion) -> SlotState:
    return SlotState((*extra, _version(CUR, NOW - 2 * HOUR, n="9")))


# -- doubt -------------------------------------------------------------------------------------------------
def test_a_listed_current_token_is_positive_evidence() -> None:
    assert slot_doubt(READER, _state([_token(CUR)], _healthy())) is None


def test_a_current_token_missing_from_the_listing_is_doubt() -> None:
    why = slot_doubt(READER, _state([], _healthy()))
    assert why is not None
    assert CUR in why


def test_versions_but_none_current_is_doubt_even_when_the_app_lists_nothing_of_the_slot() -> None:
    disabled = SlotState((_version(CUR, NOW - 2 * HOUR, enabled=False),))
    assert slot_doubt(READER, _state([], disabled)) is not None


def test_a_slot_never_minted_is_not_doubt_but_a_missing_secret_with_managed_tokens_is() -> None:
    never = SlotState(found=False)
    assert slot_doubt(READER, _state([_token("human-made")], never)) is None
    why = slot_doubt(READER, _state([_token(CUR)], never))
    assert why is not None
    assert "got no such secret" in why


def test_doubts_blocks_each_doubtful_slot() -> None:
    why = slot_doubt(READER, _state([], _healthy()))
    assert doubts(APP, _state([], _healthy())) == [Blocked("app", "reader", why or "")]
    assert doubts(APP, _state([_token(CUR)], _healthy())) == []


# -- the sweep's precondition --------------------------------------------------------------------------------
def test_the_sweep_waits_for_versions_in_every_slot_and_for_no_doubt() -> None:
    assert sweep_allowed(APP, _state([_token(CUR)], _healthy()), [])
    assert not sweep_allowed(APP, _state([], SlotState()), [])
    assert not sweep_allowed(APP, _state([_token(CUR)], _healthy()), [Blocked("app", "reader", "doubt")])


# -- the protected set --------------------------------------------------------------------------------------
def test_protected_holds_every_referenced_token_and_only_live_ones_as_live() -> None:
    revoked, abandoned, staged = _tid(NOW - 90 * HOUR, "rev1"), _tid(NOW - 3 * HOUR, "abn1"), _tid(NOW, "stg1")
    pending = "iotc-app-reader-pending"
    slot = SlotState(
        (
            _version(revoked, NOW - 90 * HOUR, STAGE_REVOKED, enabled=False, n="0"),
            _version(OLD, NOW - 40 * HOUR, STAGE_PREVIOUS, superseded=NOW - 2 * HOUR, n="1"),
            _version(CUR, NOW - 2 * HOUR, n="2"),
        ),
        (
            _version(abandoned, NOW - 3 * HOUR, STAGE_ABANDONED, secret=pending, n="p1"),
            _version(staged, NOW, STAGE_PENDING, secret=pending, n="p2"),
        ),
    )
    keep = protected(APP, _state([], slot))
    assert keep.referenced == {revoked, abandoned, staged, OLD, CUR}
    assert keep.live == {OLD, CUR, staged}


# -- per slot -----------------------------------------------------------------------------------------------
def test_a_previous_version_is_revoked_only_after_its_grace_and_never_the_current_token() -> None:
    old = _version(OLD, NOW - 40 * HOUR, STAGE_PREVIOUS, superseded=NOW - 2 * HOUR, n="1")
    state = _state([_token(OLD), _token(CUR)], _healthy(old))
    assert slot_revocations(READER, state, NOW) == []
    later = NOW + GRACE
    [action] = slot_revocations(READER, state, later)
    assert isinstance(action, Revoke)
    assert action.token_id == OLD
    assert action.delete
    assert action.kind is ActionKind.REVOKE


def test_a_previous_token_missing_from_the_listing_is_only_retired() -> None:
    old = _version(OLD, NOW - 40 * HOUR, STAGE_PREVIOUS, superseded=NOW - 30 * HOUR, n="1")
    [action] = slot_revocations(READER, _state([_token(CUR)], _healthy(old)), NOW)
    assert isinstance(action, Revoke)
    assert not action.delete


def test_a_revoked_versions_token_still_listed_is_deleted() -> None:
    old = _version(OLD, NOW - 40 * HOUR, STAGE_REVOKED, enabled=False, n="1")
    [action] = slot_revocations(READER, _state([_token(OLD), _token(CUR)], _healthy(old)), NOW)
    assert isinstance(action, DeleteToken)
    assert action.category == "revoked"


def test_revoke_reason_expired_token_goes_before_its_grace() -> None:
    expired = _token(OLD, NOW - HOUR)
    assert revoke_reason(READER, expired, NOW - HOUR, NOW) is not None
    assert revoke_reason(READER, _token(OLD), NOW - HOUR, NOW) is None


# -- the sweep ------------------------------------------------------------------------------------------------
def test_the_sweep_deletes_old_orphans_and_expired_managed_tokens_but_not_referenced_ones() -> None:
    orphan, expired = _tid(NOW - 50 * HOUR, "orp1"), _tid(NOW - 31 * 24 * HOUR, "exp1")
    referenced = _tid(NOW - 60 * HOUR, "ref1")
    slot = _healthy(_version(referenced, NOW - 60 * HOUR, STAGE_REVOKED, enabled=False, n="0"))
    state = _state(
        [_token(CUR), _token(orphan), _token(expired, NOW - HOUR), _token(referenced), _token("human-made")], slot
    )
    later = NOW + GRACE  # the current version has been current for its grace
    got = {(a.token_id, a.category) for a in sweep(APP, state, later) if isinstance(a, DeleteToken)}
    assert got == {(orphan, "orphan"), (expired, "expired")}


def test_an_orphan_waits_for_the_window_and_for_its_slots_current_version_to_pass_grace() -> None:
    young = _tid(NOW - HOUR / 2, "yng1")
    state = _state([_token(CUR)], _healthy())
    assert orphan_reason(APP, state, young, NOW) is None  # within the safety window
    old = _tid(NOW - 50 * HOUR, "orp1")
    assert orphan_reason(APP, state, old, NOW) is None  # current version 2 h old, grace 24 h
    assert orphan_reason(APP, state, old, NOW + GRACE) is not None
    assert orphan_reason(APP, state, "human-made", NOW + GRACE) is None  # no creation time: never an orphan


def test_slot_of_maps_a_managed_id_to_its_declared_slot() -> None:
    assert slot_of(CUR, APP.slots) == READER
    assert slot_of(_tid(NOW, slot="other"), APP.slots) is None
    assert slot_of("human-made", APP.slots) is None
