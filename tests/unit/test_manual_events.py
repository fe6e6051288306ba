"""The manual-action event, pure: the reason guard (required, one line, never a token value), who from a
token's claims (a person's upn, a service principal's oid), the JSON record and its log line, and the audit's
OPS-002 findings from events (AUDIT-001 when the store could not be read)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from rotation.audit.evaluate import Observed, Policies, evaluate
from rotation.audit.manual import manual_findings
from rotation.domain.events import NO_REASON, ManualEvent, Principal, check_reason, event_id, jwt_claims
from rotation.engine.admin import identity_claims
from rotation.errors import UserError

NOW = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)
OID = "0b5d7c1e-1111-4a2b-9c3d-4e5f6a7b8c9d"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _jwt(claims: dict[str, str]) -> str:
    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.signature"


def _event(**changes: object) -> ManualEvent:
    fields: dict[str, object] = {
        "id": event_id(NOW, "1a2b3c4d"),
        "at": NOW,
        "action": "revoke-now",
        "app": "contoso-fleet",
        "reason": "INC-42",
        "outcome": "done",
        "who": Principal(object_id=OID, upn="alice@contoso.com", tenant_id=TID, os_user="alice"),
        "token_id": "ops-admin",
        "detail": "deleted",
    }
    return ManualEvent(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_reason_is_required_where_asked_and_one_line() -> None:
    with pytest.raises(UserError, match=r"^--reason: got nothing, expected why"):
        check_reason("  ", required=True)
    assert check_reason(None, required=False) == NO_REASON
    assert check_reason("rotated\n  after INC-42 ", required=True) == "rotated after INC-42"
    with pytest.raises(UserError, match="expected at most 500"):
        check_reason("x" * 501, required=True)


@pytest.mark.parametrize(
    "leaked",
    [
        "SharedAccessSignature sr=abc&sig=0123456789abcdef&skn=ops&se=1",
        "see sig=0123456789abcdef",
        "oops " + _jwt({"oid": OID}),
    ],
)
def test_a_reason_that_looks_like_a_token_value_is_refused_without_echoing_it(leaked: str) -> None:
    with pytest.raises(UserError) as refused:
        check_reason(leaked, required=False)
    assert str(refused.value).startswith("--reason: got text that looks like a token value")
    assert "0123456789abcdef" not in str(refused.value)
    assert OID not in str(refused.value)


def test_who_comes_from_the_claims_of_a_person_or_a_service_principal() -> None:
    person = Principal.from_claims(
        jwt_claims(_jwt({"oid": OID, "upn": "alice@contoso.com", "tid": TID})), os_user="alice"
    )
    assert (person.object_id, person.upn, person.tenant_id) == (OID, "alice@contoso.com", TID)
    assert person.label() == f"alice@contoso.com (oid {OID}) [os user alice]"
    guest = Principal.from_claims(jwt_claims(_jwt({"oid": OID, "unique_name": "bob@fabrikam.com"})))
    assert guest.upn == "bob@fabrikam.com"
    service = Principal.from_claims({"oid": OID, "appid": "c1", "tid": TID}, via="api-token:bootstrap-admin")
    assert service.label() == f"{OID} [via api-token:bootstrap-admin]"
    assert Principal(os_user="ci", error="no credential").label() == "unknown [os user ci]"
    assert identity_claims(_jwt({"oid": OID, "tid": TID})) == (OID, TID)  # bootstrap reads the same decoder
    with pytest.raises(ValueError, match="not a JWT"):
        jwt_claims("not-a-token")


def test_an_event_round_trips_as_json_and_logs_one_quoted_line() -> None:
    event = _event(reason='said "outcome=failed" app=other')
    document = json.loads(json.dumps(event.to_json()))
    assert ManualEvent.from_json(document) == event
    assert document["schema_version"] == 1
    assert event.log_line() == (
        "manual_action action=revoke-now app=contoso-fleet slot=- token=ops-admin "
        f'who="alice@contoso.com (oid {OID}) [os user alice]" reason="said \\"outcome=failed\\" app=other" '
        "outcome=done"
    )
    with pytest.raises(ValueError, match="schema_version"):
        ManualEvent.from_json({**document, "schema_version": 2})
    with pytest.raises(ValueError, match="expected known ones"):
        ManualEvent.from_json({**document, "action": "delete-everything"})
    assert event.id == "20261202T101500.000000Z-1a2b3c4d"


def test_each_event_is_an_ops_002_finding_and_an_unreadable_store_fails_closed() -> None:
    events = [_event(), _event(id=event_id(NOW, "ffff0000"), action="import", app="greenhouse", token_id=None)]
    found = list(evaluate(Observed(apps={}, manual_events=events), Policies([]), NOW))
    manual = [f for f in found if f.control_id == "OPS-002"]
    assert [(f.app, f.status, f.severity, f.resource) for f in manual] == [
        ("contoso-fleet", "MANUAL", "info", "events/20261202T101500.000000Z-1a2b3c4d"),
        ("greenhouse", "MANUAL", "info", "events/20261202T101500.000000Z-ffff0000"),
    ]
    assert (
        manual[0].message
        == f"revoke-now token ops-admin by alice@contoso.com (oid {OID}) [os user alice] (done): INC-42"
    )
    assert manual[0].evidence["upn"] == "alice@contoso.com"
    assert manual[0].evidence["when"] == "2026-12-02 10:15 UTC"
    assert "token_id" not in manual[1].evidence  # empty fields are left out
    (failed,) = manual_findings(None, "events/: AuthorizationFailure")
    assert (failed.control_id, failed.status, failed.resource, failed.is_error) == (
        "AUDIT-001",
        "FAIL",
        "manual-events",
        True,
    )
    assert not [f for f in evaluate(Observed(apps={}), Policies([]), NOW) if f.control_id == "OPS-002"]
