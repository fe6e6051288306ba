"""The policy models (pydantic v2, unknown keys forbidden everywhere). `schema()` is what
`policies/schema.json` holds, so editors validate and complete policy files."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rotation.domain.ids import check_token_id
from rotation.domain.roles import parse_role_ref
from rotation.domain.values import (
    API_PATH_MAX,
    check_api_path,
    check_base_domain,
    check_base_url,
    check_name,
    check_organization,
    check_secret_name,
    check_subdomain,
    format_duration,
    parse_duration,
)
from rotation.errors import InvalidValue


def _checked(check: Any) -> Any:
    def run(value: Any) -> Any:
        try:
            return check(value)
        except InvalidValue as exc:
            raise PydanticCustomError("invalid_value", "{expected}", {"expected": exc.expected}) from None

    return BeforeValidator(run)


Duration = Annotated[
    timedelta,
    _checked(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^P(?!$)(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$",
            "description": "ISO 8601 duration (weeks, days, hours, minutes, seconds)",
        }
    ),
]
Name = Annotated[str, _checked(check_name)]
Subdomain = Annotated[str, _checked(check_subdomain)]
BaseDomain = Annotated[str, _checked(check_base_domain)]
BaseUrl = Annotated[str, _checked(check_base_url)]
SecretName = Annotated[str, _checked(check_secret_name)]
TokenId = Annotated[str, _checked(check_token_id)]
Organization = Annotated[str, _checked(check_organization)]
RoleName = Annotated[str, _checked(lambda v: (parse_role_ref(v), v)[1])]
# The schema's pattern is what an editor can check; `check_api_path` also refuses escaped dots and slashes.
_SEGMENT = r"(?!\.\.?(?:/|$))(?:[A-Za-z0-9_.~:@-]|%[0-9A-Fa-f]{2})+"
ApiPath = Annotated[
    str,
    _checked(check_api_path),
    WithJsonSchema(
        {"type": "string", "maxLength": API_PATH_MAX, "pattern": rf"^/api/(?:{_SEGMENT}(?:/{_SEGMENT})*/?)?$"}
    ),
]


VERIFY_BUDGET_MIN, VERIFY_BUDGET_MAX = timedelta(seconds=1), timedelta(minutes=10)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(Strict):
    lifetime: Duration = Field(timedelta(days=30), description="How long a minted token lives.")
    renew_at: float = Field(0.67, gt=0, lt=1, description="Fraction of the lifetime after which a token is renewed.")
    grace: Duration = Field(timedelta(hours=24), description="How long a superseded token keeps working.")
    max_lifetime: Duration = Field(timedelta(days=90), description="No token may live longer (audited).")
    forbid_roles: list[RoleName] = Field(["administrator"], description="Roles no managed token may hold.")
    jitter: float = Field(0.05, ge=0, lt=0.5, description="Renew up to this fraction earlier, fixed per slot.")
    orphan_safety_window: Duration = Field(
        timedelta(hours=1), description="Managed tokens no version references are deleted after this."
    )


class RoleEntry(Strict):
    role: RoleName = Field(
        description="Built-in alias (administrator, builder, operator, org_admin, org_operator, "
        "org_viewer), a role GUID, or a custom role's display name."
    )
    organization: Organization | None = Field(None, description="Scope the role to this organization id.")


class Verify(Strict):
    method: Literal["GET", "HEAD"] = "GET"
    path: ApiPath | None = Field(
        None,
        description="A read under /api/ that the token's roles allow (default "
        "/api/devices): GET <base_url><path> with the new token.",
    )
    budget: Duration | None = Field(
        None,
        description="How long a new token may take to be accepted before "
        "the rotation gives up on it, PT1S to PT10M (default PT90S).",
    )

    @field_validator("budget")
    @classmethod
    def _budget_range(cls, budget: timedelta | None) -> timedelta | None:
        """A run must end within the Function's timeout; a budget under a second leaves no time to wait."""
        if budget is not None and not VERIFY_BUDGET_MIN <= budget <= VERIFY_BUDGET_MAX:
            raise PydanticCustomError("invalid_value", "a duration from PT1S to PT10M")
        return budget


class Consumer(Strict):
    """An application that reads the slot's secret, and how often it re-reads it (docs/consumer.md)."""

    name: Name
    refresh: Duration = Field(description="longest interval between its reads, e.g. PT24H for an App Service reference")


class TokenSlot(Strict):
    slot: Name = Field(description="Slot name, unique in the app: [a-z0-9-].")
    roles: list[RoleEntry] = Field(min_length=1)
    lifetime: Duration | None = None
    renew_at: float | None = Field(None, gt=0, lt=1)
    grace: Duration | None = None
    secret: SecretName | None = Field(None, description="Key Vault secret name; default iotc-<app>-<slot>.")
    verify: Verify | None = None
    consumers: list[Consumer] = Field(
        default_factory=list, description="known readers of the secret: the grace must exceed each refresh"
    )


class Allowed(Strict):
    id: TokenId
    until: date
    justification: str = Field(min_length=3)


class IoTCentralApp(Strict):
    name: Name
    provider: Literal["iotcentral"]
    subdomain: Subdomain
    base_domain: BaseDomain = "azureiotcentral.com"
    base_url: BaseUrl | None = Field(None, description="Override of https://<subdomain>.<base_domain>.")
    vault: BaseUrl = Field(description="Key Vault URL, e.g. https://kv-contoso.vault.azure.net")
    tokens: list[TokenSlot] = Field(default_factory=list)
    allow_unmanaged: list[Allowed] = Field(default_factory=list)
    remove_unmanaged: bool = Field(False, description="Delete unmanaged tokens not allowlisted (default: report).")
    api_token_slot: Name | None = Field(
        None,
        description="For deployments without a managed identity: authenticate with this slot's current "
        "token (an admin API token stored by `rotation bootstrap --api-token-slot`); the slot "
        "rotates itself. It is exempt from forbid_roles.",
    )

    @model_validator(mode="after")
    def _unique_slots(self) -> IoTCentralApp:
        """pydantic formats custom messages with str() only, and locates a model validator's error at the
        app: `at` (below the app) and `got` in the context let the loader point at the field itself."""
        if self.api_token_slot and self.api_token_slot not in {s.slot for s in self.tokens}:
            raise PydanticCustomError(
                "invalid_value",
                "one of this app's token slots ({slots})",
                {
                    "slots": ", ".join(s.slot for s in self.tokens) or "none declared",
                    "at": ("api_token_slot",),
                    "got": self.api_token_slot,
                },
            )
        seen: dict[str, int] = {}
        for index, slot in enumerate(self.tokens):
            if slot.slot in seen:
                raise PydanticCustomError(
                    "duplicate",
                    "a slot name used once per app (also tokens[{first}])",
                    {"first": seen[slot.slot], "at": ("tokens", index, "slot"), "got": slot.slot},
                )
            seen[slot.slot] = index
        return self


class IottlyKey(Strict):
    slot: Name
    secret: SecretName
    max_age: Duration = timedelta(days=90)


class IottlyApp(Strict):
    name: Name
    provider: Literal["iottly"]
    base_url: BaseUrl = "https://api.cloud.iottly.com"
    vault: BaseUrl
    keys: list[IottlyKey] = Field(min_length=1)


App = Annotated[IoTCentralApp | IottlyApp, Field(discriminator="provider")]


class PolicyFile(Strict):
    version: Literal[1]
    defaults: Defaults = Defaults()
    apps: list[App] = Field(default_factory=list)


def schema() -> dict[str, Any]:
    document = PolicyFile.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "Rotation service policy file"
    return document
