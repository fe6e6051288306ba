"""Validation of PUT bodies, with 400s that say what was wrong and what was expected.

Rules come from the spec (`Permission.roles` required with minItems 1, `RoleAssignment.role` required,
the `User` discriminator and its subtypes' required fields, `expiry` a date-time); referential rules
(a role or organization must exist in the application) are the emulator's reading of the service.
Read-only properties (`id`, `token`) sent by a client are ignored, as the spec marks them readOnly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulators.core import HttpError
from emulators.iotcentral.app import IoTCentralApp
from emulators.iotcentral.entities import USER_ID, USER_TYPES, User
from emulators.iotcentral.roles import RoleAssignment


def bad_request(message: str) -> HttpError:
    return HttpError(400, "BadRequest", message)


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"{what}: got {type(body).__name__}, expected a JSON object")
    return body


def _string(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name}: got {value!r}, expected a non-empty string")
    return value


def role_assignments(app: IoTCentralApp, body: dict[str, Any]) -> tuple[RoleAssignment, ...]:
    roles = body.get("roles")
    if not isinstance(roles, list) or not roles:
        raise bad_request(f"roles: got {roles!r}, expected a list of at least one role assignment")
    out: list[RoleAssignment] = []
    for index, raw in enumerate(roles):
        item = _object(raw, f"roles[{index}]")
        role = item.get("role")
        if not isinstance(role, str) or app.role(role) is None:
            raise bad_request(f"roles[{index}].role: got {role!r}, expected the id of a role of this application")
        org = item.get("organization")
        if org is not None and (not isinstance(org, str) or org not in app.organizations):
            raise bad_request(
                f"roles[{index}].organization: got {org!r}, expected the id of an organization of this application"
            )
        out.append(RoleAssignment(role, org))
    return tuple(out)


def api_token(
    app: IoTCentralApp, body: Any, now: datetime, *, refuse: bool = False
) -> tuple[tuple[RoleAssignment, ...], datetime | None]:
    """The role assignments and the requested expiry (None when omitted) of an ApiTokens_Create body.
    `refuse`: an app that does not take a client-chosen expiry (the "reject" expiry policy) answers 400."""
    body = _object(body, "body")
    roles = role_assignments(app, body)
    raw = body.get("expiry")
    if raw is None:
        return roles, None
    if refuse:
        raise bad_request(f"expiry: got {raw!r}, expected no expiry (this application sets it)")
    if not isinstance(raw, str):
        raise bad_request(f"expiry: got {raw!r}, expected an ISO 8601 date-time string")
    try:
        expiry = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(
            f"expiry: got {raw!r}, expected an ISO 8601 date-time such as 2030-01-31T12:00:00.000Z"
        ) from None
    if expiry.tzinfo is None:
        raise bad_request(f"expiry: got {raw!r} without a time zone, expected a UTC offset or Z")
    if expiry <= now:
        raise bad_request(f"expiry: got {raw!r}, expected a time after now ({now.isoformat()})")
    return roles, expiry


def user(app: IoTCentralApp, user_id: str, body: Any) -> User:
    if len(user_id) > 48 or not USER_ID.match(user_id):
        raise bad_request(f"userId: got {user_id!r}, expected at most 48 of [a-zA-Z0-9-_]")
    body = _object(body, "body")
    kind = body.get("type")
    if kind not in USER_TYPES:
        raise bad_request(f"type: got {kind!r}, expected one of {', '.join(USER_TYPES)}")
    roles = role_assignments(app, body)
    if kind == "email":
        email = _string(body, "email")
        if email is None or "@" not in email:
            raise bad_request(f"email: got {email!r}, expected an email address")
        return User(user_id, kind, roles, email=email)
    return User(user_id, kind, roles, object_id=_string(body, "objectId"), tenant_id=_string(body, "tenantId"))
