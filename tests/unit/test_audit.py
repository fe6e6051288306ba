"""The pure audit: each control's PASS / FAIL / MANUAL on hand-built observations, fail-closed behaviour,
and invariants (hypothesis): one finding per control and resource, evidence never carries a value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rotation.audit.controls import CATALOG, CONTROLS
from rotation.audit.evaluate import Observed, PoisonNote, Policies, evaluate
from rotation.audit.findings import Finding
from rotation.domain.model import (
    AllowedToken,
    AppSpec,
    AppState,
    AppToken,
    IottlyAppSpec,
    IottlyKeySpec,
    KeyCheck,
    RoleAssignment,
    SecretVersion,
    SlotRole,
    SlotSpec,
    SlotState,
    VerifyCheck,
)
from rotation.domain.severity import SEVERITIES

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OPERATOR = "ae2c9854-393b-4f97-8c42-479d70ce626e"
ADMIN = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
ROLES = {OPERATOR: "Operator", ADMIN: "Administrator"}


def managed_id(slot: str, created: datetime, suffix: str = "ab12") -> str:
    return f"rot-{slot}-{created:%Y%m%d%H%M%S}-{suffix}"


def slot_spec(slot: str = "reader", lifetime: timedelta = 30 * DAY) -> SlotSpec:
    return SlotSpec(
        app="app",
        slot=slot,
        secret=f"iotc-app-{slot}",
        roles=(SlotRole(OPERATOR),),
        lifetime=lifetime,
        renew_at=0.67,
        grace=timedelta(hours=24),
        max_lifetime=90 * DAY,
    )


def app_spec(*slots: SlotSpec, allow: tuple[AllowedToken, ...] = ()) -> AppSpec:
    return AppSpec(
        name="app",
        base_url="https://app.azureiotcentral.com",
        vault="https://kv.vault.azure.net",
        slots=slots or (slot_spec(),),
        allow_unmanaged=allow,
        forbid_roles=(ADMIN,),
    )


def version(
    token_id: str,
    created: datetime,
    stage: str = "current",
    *,
    expires: datetime | None = None,
    superseded: datetime | None = None,
    number: str = "v1",
) -> SecretVersion:
    tags = {"managed-by": "rotation", "token-id": token_id, "stage": stage}
    if superseded:
        tags["superseded-at"] = superseded.isoformat()
    return SecretVersion("iotc-app-reader", number, created, expires_on=expires, tags=tags)


def token(token_id: str, expiry: datetime | None, role: str = OPERATOR) -> AppToken:
    return AppToken(token_id, frozenset({RoleAssignment(role)}), expiry)


def healthy(created: datetime = NOW - 3 * DAY) -> tuple[AppState, str]:
    tid = managed_id("reader", created)
    state = AppState(
        "app",
        (token(tid, created + 30 * DAY),),
        ROLES,
        {"reader": SlotState((version(tid, created, expires=created + 30 * DAY),))},
    )
    return state, tid


def judge(spec: AppSpec, state: AppState, **observed: object) -> dict[str, Finding]:
    findings = evaluate(Observed({"app": state}, **observed), Policies([spec]), NOW)  # type: ignore[arg-type]
    return {f"{f.control_id}:{f.resource}": f for f in findings}


def test_a_healthy_slot_passes_every_control_that_applies() -> None:
    state, tid = healthy()
    found = judge(app_spec(), state, verify=[VerifyCheck("app", "reader", tid, ok=True)])
    assert {f.status for f in found.values()} == {"PASS"}
    for key in (
        "AUDIT-001:app",
        f"IOTC-001:tokens/{tid}",
        f"IOTC-002:tokens/{tid}",
        f"IOTC-003:tokens/{tid}",
        f"IOTC-004:tokens/{tid}",
        f"IOTC-005:tokens/{tid}",
        f"IOTC-009:tokens/{tid}",
        "IOTC-006:slots/reader",
        "IOTC-007:slots/reader",
        "IOTC-008:slots/reader",
        "IOTC-012:slots/reader",
        "IOTC-013:slots/reader",
        "IOTC-010:secrets/iotc-app-reader/versions/v1",
    ):
        assert key in found, key


def test_unmanaged_admin_token_with_far_future_expiry() -> None:
    state, _ = healthy()
    state = AppState("app", (*(state.tokens or ()), token("ops-admin", NOW + 400 * DAY, ADMIN)), ROLES, state.slots)
    found = judge(app_spec(), state)
    for control in ("IOTC-001", "IOTC-002", "IOTC-003", "IOTC-004"):
        assert found[f"{control}:tokens/ops-admin"].status == "FAIL", control
    assert found["IOTC-002:tokens/ops-admin"].evidence["roles"] == "Administrator"
    assert found["IOTC-005:tokens/ops-admin"].status == "PASS"


def test_an_expiry_the_app_chose_instead_of_ours_shows_in_the_lifetime_findings() -> None:
    created = NOW - 3 * DAY
    tid = managed_id("reader", created)
    v = version(tid, created, expires=created + 365 * DAY)
    v = SecretVersion(
        v.name,
        v.version,
        v.created_on,
        expires_on=v.expires_on,
        tags={**v.tags, "requested-expiry": "2026-12-21T12:00:00Z"},
    )
    state = AppState("app", (token(tid, created + 365 * DAY),), ROLES, {"reader": SlotState((v,))})
    found = judge(app_spec(), state)
    for control in ("IOTC-003", "IOTC-004"):
        assert found[f"{control}:tokens/{tid}"].evidence["requested_expiry"] == "2026-12-21T12:00:00Z", control
    assert "requested 2026-12-21T12:00:00Z, the app set its own" in found[f"IOTC-004:tokens/{tid}"].message
    healthy_state, healthy_id = healthy()
    assert "requested_expiry" not in judge(app_spec(), healthy_state)[f"IOTC-004:tokens/{healthy_id}"].evidence


def test_allowlist_exception_valid_then_expired() -> None:
    state, _ = healthy()
    state = AppState("app", (*(state.tokens or ()), token("legacy", NOW + 30 * DAY)), ROLES, state.slots)
    valid = judge(app_spec(allow=(AllowedToken("legacy", date(2026, 12, 31), "migrating"),)), state)
    assert valid["IOTC-001:tokens/legacy"].status == "PASS"
    assert valid["IOTC-011:tokens/legacy"].status == "PASS"
    expired = judge(app_spec(allow=(AllowedToken("legacy", date(2026, 1, 31), "migrating"),)), state)
    assert expired["IOTC-001:tokens/legacy"].status == "FAIL"
    assert expired["IOTC-011:tokens/legacy"].status == "FAIL"


def test_expired_present_overdue_renewal_and_missing_expiry() -> None:
    created = NOW - 31 * DAY
    tid = managed_id("reader", created)
    state = AppState("app", (token(tid, created + 30 * DAY),), ROLES, {"reader": SlotState((version(tid, created),))})
    found = judge(app_spec(), state)
    assert found[f"IOTC-005:tokens/{tid}"].status == "FAIL"
    assert found["IOTC-006:slots/reader"].status == "FAIL"
    assert found["IOTC-010:secrets/iotc-app-reader/versions/v1"].message == "missing expires_on"


def test_renewal_is_judged_with_a_day_of_slack() -> None:
    state, _ = healthy(created=NOW - 21 * DAY)  # renewal point at ~20 days (jitter 0): within the slack
    assert judge(app_spec(), state)["IOTC-006:slots/reader"].status == "PASS"
    state, _ = healthy(created=NOW - 22 * DAY)
    assert judge(app_spec(), state)["IOTC-006:slots/reader"].status == "FAIL"


def test_vault_current_missing_from_app_drift_and_failed_verification() -> None:
    state, tid = healthy()
    gone = AppState("app", (), ROLES, state.slots)
    assert judge(app_spec(), gone)["IOTC-007:slots/reader"].status == "FAIL"
    drifted = AppState("app", (token(tid, NOW + 27 * DAY, ADMIN),), ROLES, state.slots)
    drift = judge(app_spec(), drifted)["IOTC-008:slots/reader"]
    assert drift.status == "FAIL"
    assert drift.message == "roles drift: +Operator -Administrator"
    failing = judge(app_spec(), state, verify=[VerifyCheck("app", "reader", tid, ok=False, error="HTTP 401")])
    assert failing["IOTC-012:slots/reader"].status == "FAIL"
    assert "HTTP 401" in failing["IOTC-012:slots/reader"].message


def test_orphan_and_the_safety_window() -> None:
    state, _ = healthy()
    old, young = managed_id("reader", NOW - 2 * DAY, "zz99"), managed_id("reader", NOW - timedelta(minutes=5), "yy88")
    state = AppState("app", (*(state.tokens or ()), token(old, NOW + DAY), token(young, NOW + DAY)), ROLES, state.slots)
    found = judge(app_spec(), state)
    assert found[f"IOTC-009:tokens/{old}"].status == "FAIL"
    assert found[f"IOTC-009:tokens/{young}"].status == "PASS"


def test_superseded_token_past_grace() -> None:
    old_created, new_created = NOW - 25 * DAY, NOW - 3 * DAY
    old, new = managed_id("reader", old_created, "aaaa"), managed_id("reader", new_created, "bbbb")
    versions = (
        version(old, old_created, "previous", expires=old_created + 30 * DAY, superseded=new_created),
        version(new, new_created, expires=new_created + 30 * DAY, number="v2"),
    )
    state = AppState(
        "app",
        (token(old, old_created + 30 * DAY), token(new, new_created + 30 * DAY)),
        ROLES,
        {"reader": SlotState(versions)},
    )
    found = judge(app_spec(), state)
    assert found[f"IOTC-014:tokens/{old}"].status == "FAIL"
    assert f"IOTC-014:tokens/{new}" not in found


def test_declared_slot_without_a_token() -> None:
    found = judge(app_spec(), AppState("app", (), ROLES, {}))
    assert found["IOTC-013:slots/reader"].status == "FAIL"
    assert "IOTC-007:slots/reader" not in found


def test_fail_closed_on_an_incomplete_listing() -> None:
    state = AppState("app", None, errors=("IncompleteListingError: nextLink loop",))
    findings = evaluate(Observed({"app": state}), Policies([app_spec()]), NOW)
    assert [(f.control_id, f.status) for f in findings] == [("AUDIT-001", "FAIL")]
    assert findings[0].is_error
    assert "nextLink loop" in findings[0].evidence["errors"]
    # a vault that could not be read: token-list controls still judged, slot controls not
    state, _ = healthy()
    partial = AppState("app", state.tokens, ROLES, {}, vault_complete=False, errors=("vault: HTTP 403",))
    found = judge(app_spec(), partial)
    assert found["AUDIT-001:app"].status == "FAIL"
    assert not any(key.startswith(("IOTC-013", "IOTC-009")) for key in found)


def test_iottly_keys() -> None:
    spec = IottlyAppSpec(
        "greenhouse",
        "https://api.cloud.iottly.com",
        "https://kv.vault.azure.net",
        (
            IottlyKeySpec("greenhouse", "ingest", "k-ingest", 90 * DAY),
            IottlyKeySpec("greenhouse", "export", "k-export", 90 * DAY),
            IottlyKeySpec("greenhouse", "missing", "k-missing", 90 * DAY),
        ),
    )
    old = SecretVersion(
        "k-ingest", "v1", NOW - 120 * DAY, expires_on=NOW + DAY, tags={"managed-by": "rotation", "stage": "current"}
    )
    fresh = SecretVersion("k-export", "v1", NOW - 10 * DAY, tags={"managed-by": "rotation", "stage": "current"})
    checks = [
        KeyCheck("greenhouse", "ingest", "k-ingest", (old,), valid=True),
        KeyCheck("greenhouse", "export", "k-export", (fresh,), valid=False),
        KeyCheck("greenhouse", "missing", "k-missing", (), valid=None),
    ]
    findings = evaluate(Observed({}, keys=checks), Policies([], [spec]), NOW)
    found = {f"{f.control_id}:{f.resource}": f for f in findings}
    assert found["IOTY-002:keys/ingest"].status == "MANUAL"
    assert "web UI" in found["IOTY-002:keys/ingest"].control.remediation
    assert found["IOTY-001:keys/ingest"].status == "PASS"
    assert found["IOTY-001:keys/export"].status == "FAIL"
    assert found["IOTY-003:keys/missing"].status == "FAIL"
    assert found["IOTC-010:secrets/k-export/versions/v1"].status == "FAIL"  # no expires_on


def test_poison_queue_entries_are_findings_only_when_fanout_is_on() -> None:
    state, _ = healthy()
    assert not any(k.startswith("OPS-001") for k in judge(app_spec(), state))
    found = judge(app_spec(), state, poison=[PoisonNote("app", "rotate", 2)])
    assert found["OPS-001:fanout"].status == "FAIL"
    garbage = evaluate(
        Observed({"app": state}, poison=[PoisonNote("(unreadable)", "rotate")]), Policies([app_spec()]), NOW
    )
    assert [(f.app, f.status) for f in garbage if f.control_id == "OPS-001"] == [
        ("(unreadable)", "FAIL"),
        ("app", "PASS"),
    ]
    unreadable = evaluate(Observed({"app": state}, poison_error="peek queue: HTTP 403"), Policies([app_spec()]), NOW)
    assert [f.is_error for f in unreadable if f.resource == "poison-queue"] == [True]


def test_catalog_is_complete_and_consistent() -> None:
    assert len({c.id for c in CATALOG}) == len(CATALOG)
    for control in CATALOG:
        assert control.severity in SEVERITIES
        assert control.title
        assert control.rationale
        assert control.remediation
    assert set(CONTROLS) >= {"IOTC-001", "IOTC-002", "IOTY-002", "AUDIT-001"}


@settings(max_examples=60, deadline=None)
@given(
    ages=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=6),
    lifetimes=st.lists(st.integers(min_value=-10, max_value=4000), min_size=1, max_size=6),
    admin=st.lists(st.booleans(), min_size=1, max_size=6),
)
def test_invariants_one_finding_per_control_and_resource_sorted_worst_first(
    ages: list[int], lifetimes: list[int], admin: list[bool]
) -> None:
    tokens = []
    for i, (age, life, is_admin) in enumerate(zip(ages, lifetimes, admin, strict=False)):
        created = NOW - age * DAY
        tokens.append(
            token(
                managed_id("reader", created, f"x{i:03d}") if i % 2 else f"human-{i}",
                created + life * DAY,
                ADMIN if is_admin else OPERATOR,
            )
        )
    state, _ = healthy()
    state = AppState("app", (*(state.tokens or ()), *tokens), ROLES, state.slots)
    findings = evaluate(Observed({"app": state}), Policies([app_spec()]), NOW)
    uids = [f.uid for f in findings]
    assert len(uids) == len(set(uids))
    opens = [f.open for f in findings]
    assert opens == sorted(opens, reverse=True)  # open findings first
    for finding in findings:
        assert all(isinstance(v, str) for v in finding.evidence.values())
        assert finding.resource_type == finding.control.resource
