"""IoT Central's answers (data plane 2022-07-31) as strict wire models, checked before any becomes an
`AppToken`, a role name or a token value. Field rules follow the vendored spec
(emulators/specs/iotcentral-2022-07-31.json): a token has an id and at least one role assignment, a role
assignment names its role by GUID, `expiry` is an ISO 8601 date-time string.

Listed token ids are checked against what the API accepts in a path (1-128 unreserved characters), not
against the service's own 40-character rule: a token someone else made with a longer id is still listed
(and, being unmanaged, never touched), instead of making every listing of that app incomplete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from rotation.adapters.wire import Wire
from rotation.domain.model import AppToken, RoleAssignment
from rotation.domain.secret import Secret

GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
LISTED_TOKEN_ID = r"^[A-Za-z0-9_.~-]{1,128}$"  # noqa: S105 -- a pattern, not a secret


def _iso_datetime(raw: object) -> datetime:
    """An ISO 8601 date-time string (a number or a bare date is refused); no offset means UTC."""
    if not isinstance(raw, str) or "T" not in raw:
        raise ValueError("expected an ISO 8601 date-time string")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("expected an ISO 8601 date-time string") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_datetime)]
Guid = Annotated[str, StringConstraints(pattern=GUID)]


class WireRoleAssignment(Wire):
    role: Guid
    organization: Annotated[str, StringConstraints(min_length=1)] | None = None

    def model(self) -> RoleAssignment:
        return RoleAssignment(self.role, self.organization)


class WireApiToken(Wire):
    id: Annotated[str, StringConstraints(pattern=LISTED_TOKEN_ID)]
    roles: Annotated[list[WireRoleAssignment], Field(min_length=1)]
    expiry: IsoDatetime | None = None

    def model(self) -> AppToken:
        return AppToken(self.id, frozenset(r.model() for r in self.roles), self.expiry)


def _secret(raw: object) -> Secret:
    if not isinstance(raw, str) or not raw:
        raise ValueError("expected a non-empty string")  # the value itself is never quoted
    return Secret(raw)


class WireCreatedToken(WireApiToken):
    """The create answer: the only one that carries the value (never again obtainable), held as a `Secret`
    from the moment it is read, so the model's repr cannot show it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    token: Annotated[Secret, BeforeValidator(_secret)]


class WireRole(Wire):
    id: Guid
    display_name: str | None = Field(default=None, alias="displayName")


class WireUser(Wire):
    id: Annotated[str, StringConstraints(min_length=1)]
    type: Annotated[str, StringConstraints(min_length=1)]
    roles: list[WireRoleAssignment] = Field(default_factory=list)
    object_id: str | None = Field(default=None, alias="objectId")
    tenant_id: str | None = Field(default=None, alias="tenantId")
    email: str | None = None


class _Page(Wire):
    next_link: str | None = Field(default=None, alias="nextLink")


class WireTokenPage(_Page):
    value: list[WireApiToken]


class WireRolePage(_Page):
    value: list[WireRole]
