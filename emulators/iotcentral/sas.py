"""API token values in IoT Central's own format, and their verification.

A value reads ``SharedAccessSignature sr=<app id>&sig=<signature>&skn=<token id>&se=<expiry, epoch ms>``
as the real service returns it (the documented example's ``se`` is the token's expiry in Unix epoch
milliseconds). The real signing scheme is not public: the emulator signs ``sr``, ``skn`` and ``se`` with
HMAC-SHA256 under a random key per token, and percent-encodes the base64 signature as Azure SAS tokens
do. A deleted and re-created token gets a new key, so the old value stops working, as it must.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

SCHEME = "SharedAccessSignature"


class SasRejectedError(Exception):
    """Why an API token was refused; the message goes into the 401 body."""


@dataclass(frozen=True)
class SasFields:
    sr: str
    sig: str
    skn: str
    se: int


def new_key() -> bytes:
    return secrets.token_bytes(32)


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def truncate_ms(when: datetime) -> datetime:
    """Expiries travel as epoch milliseconds, so they are kept at that precision."""
    return from_epoch_ms(epoch_ms(when))


def _signature(key: bytes, sr: str, skn: str, se: int) -> bytes:
    return hmac.new(key, f"{sr}\n{skn}\n{se}".encode(), hashlib.sha256).digest()


def token_value(key: bytes, *, app_id: str, token_id: str, expiry: datetime) -> str:
    se = epoch_ms(expiry)
    sig = base64.b64encode(_signature(key, app_id, token_id, se)).decode("ascii")
    return f"{SCHEME} sr={app_id}&sig={quote(sig, safe='')}&skn={token_id}&se={se}"


def parse(credentials: str) -> SasFields:
    """The fields after ``SharedAccessSignature ``; percent-decoding only (a '+' stays a '+')."""
    fields: dict[str, str] = {}
    for part in credentials.strip().split("&"):
        name, sep, value = part.partition("=")
        if not sep or not name or name in fields:
            raise SasRejectedError("API token is malformed: expected sr=..&sig=..&skn=..&se=..")
        fields[name] = unquote(value)
    missing = sorted({"sr", "sig", "skn", "se"} - set(fields))
    if missing:
        raise SasRejectedError(f"API token is malformed: missing {', '.join(missing)}")
    if not fields["se"].isdigit():
        raise SasRejectedError(f"API token is malformed: se={fields['se']!r}, expected epoch milliseconds")
    return SasFields(sr=fields["sr"], sig=fields["sig"], skn=fields["skn"], se=int(fields["se"]))


def signature_matches(key: bytes, fields: SasFields) -> bool:
    try:
        presented = base64.b64decode(fields.sig, validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(presented, _signature(key, fields.sr, fields.skn, fields.se))
