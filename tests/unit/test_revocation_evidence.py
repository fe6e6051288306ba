"""Revocation acts only on positive evidence (the planner, pure): a slot whose secret is gone, empty or
without a current version while the app lists its managed tokens is Blocked and nothing of the app is
swept; a token missing from a listing is never deleted on the listing's word; a staged token that a
version of the slot references is never deleted as "abandoned"."""

from __future__ import annotations

from collections.abc import Sequence
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
    VerifyCheck,
)
from rotation.domain.protocol import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    STAGE_REVOKED,
    TAG_STAGE,
    TAG_SUPERSEDED_AT,
    TAG_TOKEN_ID,
)
from rotation.engine.actions import AbandonPending, Blocked, DeleteToken, FinishPromotion, ResumePending, Revoke
from rotation.engine.planner import plan_revocation, plan_rotation

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ROLES = frozenset({RoleAssignment(OPERATOR)})


def _slot(name: str) -> SlotSpec:
    return SlotSpec(
        app="app",
        slot=name,
        secret=f"iotc-app-{name}",
        roles=(SlotRole(OPERATOR),),
        lifetime=timedelta(days=30),
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=timedelta(days=90),
    )


APP = AppSpec(
    name="app",
    base_url="https://app.azureiotcentral.com",
    vault="https://kv.vault.azure.net",
    slots=(_slot("reader"), _slot("writer")),
)


def _tid(slot: str, created: datetime, suffix: str = "ab12") -> str:
    return f"rot-{slot}-{created:%Y%m%d%H%M%S}-{suffix}"


def _token(token_id: str, created: datetime) -> AppToken:
    return AppToken(token_id, ROLES, created + timedelta(days=30))


def _version(
    slot: str,
    token_id: str,
    created: datetime,
    stage: str = STAGE_CURRENT,
    *,
    enabled: bool = True,
    superseded: datetime | None = None,
    n: str = "1",
) -> SecretVersion:
    tags = {TAG_STAGE: stage, TAG_TOKEN_ID: token_id}
    if superseded is not None:
        tags[TAG_SUPERSEDED_AT] = superseded.isoformat()
    return SecretVersion(f"iotc-app-{slot}", f"{slot}-{n}", created, enabled, None, tags)


def _healthy_writer() -> tuple[AppToken, SlotState]:
    created = NOW - 2 * HOUR
    tid = _tid("writer", created)
    return _token(tid, created), SlotState((_version("writer", tid, created),))


def _state(tokens: list[AppToken], **slots: SlotState) -> AppState:
    return AppState("app", tuple(tokens), {OPERATOR: "Operator"}, slots)


def _deletes(actions: Sequence[object]) -> set[str | None]:
    return {a.token_id for a in actions if isinstance(a, DeleteToken) or (isinstance(a, Revoke) and a.delete)}


def test_a_deleted_secret_blocks_the_slot_and_the_sweep_and_keeps_its_current_token() -> None:
    created = NOW - 3 * HOUR  # past the orphan safety window (1 h)
    current = _tid("reader", created)
    orphan = _tid("writer", NOW - 10 * 24 * HOUR, "zz99")  # a true orphan of another slot
    writer_token, writer = _healthy_writer()
    state = _state(
        [_token(current, created), writer_token, _token(orphan, NOW - 10 * 24 * HOUR)],
        reader=SlotState(found=False),
        writer=writer,
    )
    actions = plan_revocation([APP], {"app": state}, NOW)
    assert _deletes(actions) == set()  # the orphan waits too: the app's state is in doubt
    [blocked] = [a for a in actions if isinstance(a, Blocked)]
    assert blocked.slot == "reader"
    assert "iotc-app-reader: got no such secret" in blocked.reason
    assert current in blocked.reason


def test_a_secret_with_no_versions_or_no_current_version_is_doubt_too() -> None:
    created = NOW - 3 * HOUR
    current = _tid("reader", created)
    writer_token, writer = _healthy_writer()
    tokens = [_token(current, created), writer_token]
    for slot, words in (
        (SlotState(()), "got no versions"),
        (SlotState((_version("reader", current, created, enabled=False),)), "none enabled and tagged current"),
    ):
        actions = plan_revocation([APP], {"app": _state(tokens, reader=slot, writer=writer)}, NOW)
        assert _deletes(actions) == set()
        assert any(isinstance(a, Blocked) and words in a.reason for a in actions)


def test_a_slot_never_minted_is_not_doubt() -> None:
    writer_token, writer = _healthy_writer()
    old_orphan = _tid("gone", NOW - 10 * 24 * HOUR)  # a slot no longer declared
    state = _state(
        [writer_token, _token(old_orphan, NOW - 10 * 24 * HOUR)], reader=SlotState(found=False), writer=writer
    )
    actions = plan_revocation([APP], {"app": state}, NOW)
    assert not any(isinstance(a, Blocked) for a in actions)
    assert _deletes(actions) == set()  # no sweep until every slot has versions: a lie could hide a deleted one
    minted = SlotState((_version("reader", _tid("reader", NOW - 2 * HOUR), NOW - 2 * HOUR),))
    state = _state(
        [*(state.tokens or ()), _token(_tid("reader", NOW - 2 * HOUR), NOW - 2 * HOUR)], reader=minted, writer=writer
    )
    assert _deletes(plan_revocation([APP], {"app": state}, NOW)) == {old_orphan}


def test_a_superseded_token_missing_from_the_listing_is_never_deleted() -> None:
    old_created, new_created = NOW - 20 * 24 * HOUR, NOW - 2 * HOUR
    old, new = _tid("reader", old_created), _tid("reader", new_created)
    writer_token, writer = _healthy_writer()
    for superseded, planned in ((NOW - 2 * HOUR, []), (NOW - 48 * HOUR, [False])):  # in grace, past grace
        slot = SlotState(
            (
                _version("reader", old, old_created, STAGE_PREVIOUS, superseded=superseded, n="0"),
                _version("reader", new, new_created),
            )
        )
        state = _state([_token(new, new_created), writer_token], reader=slot, writer=writer)  # `old` omitted
        actions = plan_revocation([APP], {"app": state}, NOW)
        assert [a.delete for a in actions if isinstance(a, Revoke)] == planned
        assert _deletes(actions) == set()


def test_a_current_token_missing_from_the_listing_keeps_the_slots_superseded_tokens() -> None:
    old_created, new_created = NOW - 20 * 24 * HOUR, NOW - 2 * HOUR
    old, new = _tid("reader", old_created), _tid("reader", new_created)
    writer_token, writer = _healthy_writer()
    slot = SlotState(
        (
            _version("reader", old, old_created, STAGE_PREVIOUS, superseded=NOW - 48 * HOUR, n="0"),
            _version("reader", new, new_created),
        )
    )
    state = _state([_token(old, old_created), writer_token], reader=slot, writer=writer)  # `new` omitted
    actions = plan_revocation([APP], {"app": state}, NOW)
    assert _deletes(actions) == set()
    assert any(isinstance(a, Blocked) and new in a.reason for a in actions)


def test_the_token_of_a_revoked_version_still_listed_is_deleted() -> None:
    old_created, new_created = NOW - 20 * 24 * HOUR, NOW - 2 * HOUR
    old, new = _tid("reader", old_created), _tid("reader", new_created)
    writer_token, writer = _healthy_writer()
    slot = SlotState(
        (
            _version("reader", old, old_created, STAGE_REVOKED, enabled=False, n="0"),
            _version("reader", new, new_created),
        )
    )
    state = _state([_token(old, old_created), _token(new, new_created), writer_token], reader=slot, writer=writer)
    assert _deletes(plan_revocation([APP], {"app": state}, NOW)) == {old}


def test_an_orphan_of_a_declared_slot_waits_for_the_slots_grace() -> None:
    """E.g. the policy renamed the slot's secret: the old secret's token is an orphan a consumer may hold."""
    orphan_created, new_created = NOW - 20 * 24 * HOUR, NOW - 2 * HOUR
    orphan, new = _tid("reader", orphan_created, "zz99"), _tid("reader", new_created)
    writer_token, writer = _healthy_writer()
    state = _state(
        [_token(orphan, orphan_created), _token(new, new_created), writer_token],
        reader=SlotState((_version("reader", new, new_created),)),
        writer=writer,
    )
    assert _deletes(plan_revocation([APP], {"app": state}, NOW)) == set()
    assert _deletes(plan_revocation([APP], {"app": state}, NOW + 23 * HOUR)) == {orphan}


def test_a_staged_token_a_version_references_is_finished_not_abandoned() -> None:
    """A run promoted T1 but stopped before tagging its staging version; a later rotation made T2 current
    and T1 previous (in grace). T1's staging version must never lead to deleting T1."""
    t1_created, t2_created = NOW - 3 * HOUR, NOW - HOUR
    t1, t2 = _tid("reader", t1_created), _tid("reader", t2_created)
    writer_token, writer = _healthy_writer()
    slot = SlotState(
        (
            _version("reader", t1, t1_created, STAGE_PREVIOUS, superseded=t2_created, n="0"),
            _version("reader", t2, t2_created),
        ),
        (
            SecretVersion(
                "iotc-app-reader-pending", "p1", t1_created, True, None, {TAG_STAGE: STAGE_PENDING, TAG_TOKEN_ID: t1}
            ),
        ),
    )
    state = _state([_token(t1, t1_created), _token(t2, t2_created), writer_token], reader=slot, writer=writer)
    actions = plan_rotation([APP], {"app": state}, NOW)
    assert [type(a) for a in actions if a.slot == "reader"] == [FinishPromotion]


def test_a_token_staged_twice_is_resumed_once_and_never_deleted() -> None:
    """A retried write can leave two staging versions with one token id."""
    created = NOW - HOUR
    current_created = NOW - 20 * 24 * HOUR
    staged, current = _tid("reader", created), _tid("reader", current_created)
    writer_token, writer = _healthy_writer()
    pending = tuple(
        SecretVersion(
            "iotc-app-reader-pending",
            f"p{i}",
            created + timedelta(seconds=i),
            True,
            None,
            {TAG_STAGE: STAGE_PENDING, TAG_TOKEN_ID: staged},
        )
        for i in range(2)
    )
    slot = SlotState((_version("reader", current, current_created),), pending)
    state = _state(
        [_token(staged, created), _token(current, current_created), writer_token], reader=slot, writer=writer
    )
    actions = [a for a in plan_rotation([APP], {"app": state}, NOW) if a.slot == "reader"]
    assert sum(isinstance(a, ResumePending) for a in actions) == 1
    assert [a.token_exists for a in actions if isinstance(a, AbandonPending)] == [False]


def test_a_current_token_the_app_refuses_is_due() -> None:
    created = NOW - 2 * HOUR
    tid = _tid("reader", created)
    writer_token, writer = _healthy_writer()
    state = AppState(
        "app",
        (_token(tid, created), writer_token),
        {OPERATOR: "Operator"},
        {"reader": SlotState((_version("reader", tid, created),)), "writer": writer},
        checks={"reader": VerifyCheck("app", "reader", tid, ok=False, error="HTTP 401", refused=True)},
    )
    [mint] = [a for a in plan_rotation([APP], {"app": state}, NOW) if a.slot == "reader"]
    assert mint.reason == "current token fails verification (HTTP 401)"
    unchecked = AppState(
        "app",
        state.tokens,
        state.roles,
        state.slots,
        checks={"reader": VerifyCheck("app", "reader", tid, ok=False, error="could not verify")},
    )
    assert [a for a in plan_rotation([APP], {"app": unchecked}, NOW) if a.slot == "reader"] == []
