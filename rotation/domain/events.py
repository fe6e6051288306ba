"""The paper trail of manual actions: one `ManualEvent` per `revoke-now`, `rotate --now`, `import` and
`bootstrap` (issue 15): who did what, why and when, and how it ended. Pure: the CLI fills it in, an
adapter appends it to the report store, the audit lists it as an OPS-002 finding.

An event never carries a token value: its fields are ids, names, times and the operator's reason, and a
reason that looks like a token value is refused before anything happens (`check_reason`). Who is read from
the signed-in credential's access token claims, decoded WITHOUT verifying the signature: this is attribution
for the record, not authentication (the services that were called checked the token themselves).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from rotation.errors import UserError

SCHEMA_VERSION = 1
WINDOW = timedelta(days=30)
"""How far back an audit lists manual actions: each stays a finding for 30 days (the first audit after the
action shows it as *new* in its diff), long enough for a monthly review, short enough to stay readable."""
NO_REASON = "-"
MAX_REASON = 500

Action = Literal["revoke-now", "rotate-now", "import", "bootstrap"]
Outcome = Literal["done", "failed", "refused"]
ACTIONS: tuple[Action, ...] = ("revoke-now", "rotate-now", "import", "bootstrap")
OUTCOMES: tuple[Outcome, ...] = ("done", "failed", "refused")

# What a token value looks like: an IoT Central API token, a `sig=` parameter, a JWT (Azure AD, iottly).
_TOKEN_LIKE = re.compile(
    r"SharedAccessSignature|\bsig(?:=|%3D)|eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}", re.IGNORECASE
)


def check_reason(reason: str | None, *, required: bool, flag: str = "--reason") -> str:
    """The operator's why, on one line; never echoed back when refused (it might hold a secret)."""
    text = " ".join((reason or "").split())
    if not text:
        if required:
            raise UserError(f"{flag}: got nothing, expected why you do this (it goes into the audit trail)")
        return NO_REASON
    if _TOKEN_LIKE.search(text):
        raise UserError(
            f"{flag}: got text that looks like a token value (SharedAccessSignature, sig=, a JWT), expected a "
            "reason without any secret: nothing done"
        )
    if len(text) > MAX_REASON:
        raise UserError(f"{flag}: got {len(text)} characters, expected at most {MAX_REASON}")
    return text


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without verification (attribution only). Raises ValueError."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise ValueError("got something that is not a JWT, expected an access token") from None
    if not isinstance(claims, dict):
        raise ValueError("got a JWT whose payload is not an object, expected claims")  # noqa: TRY004 -- one error type for callers
    return claims


@dataclass(frozen=True)
class Principal:
    """Who acted: the credential's identity (object id, user principal name, application id, tenant) as
    its token says, the OS user of the process, and `via` when the act used another credential (the
    one-off admin API token of a bootstrap: `api-token:<token id>`). `error`: why the identity is unknown."""

    object_id: str = ""
    upn: str = ""
    app_id: str = ""
    tenant_id: str = ""
    os_user: str = ""
    via: str = ""
    error: str = ""

    @classmethod
    def from_claims(cls, claims: dict[str, Any], *, os_user: str = "", via: str = "") -> Principal:
        def claim(*names: str) -> str:
            return next((str(claims[n]) for n in names if claims.get(n)), "")

        return cls(
            object_id=claim("oid"),
            upn=claim("upn", "unique_name", "preferred_username"),
            app_id=claim("appid", "azp"),
            tenant_id=claim("tid"),
            os_user=os_user,
            via=via,
        )

    def label(self) -> str:
        """`alice@contoso.com (oid …)`, the service principal's object id, or what is known."""
        who = self.upn or self.object_id or (f"app {self.app_id}" if self.app_id else "") or self.via or "unknown"
        if self.upn and self.object_id:
            who += f" (oid {self.object_id})"
        extras = []
        if self.via and self.via != who:
            extras.append(f"via {self.via}")
        if self.os_user:
            extras.append(f"os user {self.os_user}")
        return f"{who} [{', '.join(extras)}]" if extras else who


@dataclass(frozen=True)
class ManualEvent:
    """One manual action, written after it ran (a failed or refused one too)."""

    id: str
    at: datetime
    action: Action
    app: str
    reason: str
    outcome: Outcome
    who: Principal = field(default_factory=Principal)
    slot: str | None = None
    token_id: str | None = None
    detail: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["at"] = self.at.isoformat()
        return document

    @classmethod
    def from_json(cls, document: Any) -> ManualEvent:
        """Raises ValueError (or KeyError, TypeError) on anything but an event this module wrote."""
        if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"got a {type(document).__name__} without schema_version {SCHEMA_VERSION}, expected an event"
            )
        if document["action"] not in ACTIONS or document["outcome"] not in OUTCOMES:
            raise ValueError(f"got action {document['action']!r}/outcome {document['outcome']!r}, expected known ones")
        at = datetime.fromisoformat(document["at"])
        if at.tzinfo is None:
            raise ValueError(f"at: got {document['at']!r}, expected a UTC time")
        return cls(**{**document, "at": at, "who": Principal(**document["who"])})

    def log_line(self) -> str:
        """`manual_action action=... app=... slot=... token=<id> who=... reason="..." outcome=...`: the
        reason and who are JSON-quoted, so no reason can forge another field or line."""
        return (
            f"manual_action action={self.action} app={self.app} slot={self.slot or '-'} "
            f"token={self.token_id or '-'} who={json.dumps(self.who.label())} reason={json.dumps(self.reason)} "
            f"outcome={self.outcome}"
        )


def event_id(at: datetime, suffix: str) -> str:
    """Ids sort by time (like run ids), then a random suffix: `20261202T101500.123456Z-1a2b3c4d`."""
    return f"{at:%Y%m%dT%H%M%S.%fZ}-{suffix}"


def day_of(at: datetime) -> str:
    return f"{at:%Y%m%d}"
