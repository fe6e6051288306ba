"""Small validated values: checked once, where they enter (a policy file, a flag), before they reach a URL,
a secret name or a tag. Pure (no I/O); every check raises `InvalidValue` ("got X, expected Y"), a
`rotation.errors.ValidationError` that also carries `got` and `expected` separately so the policy loader
can put them on a `file:line field:` line of its own.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import re
import string
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import isodate

from rotation.domain.ids import TOKEN_ID_MAX, check_token_id
from rotation.domain.protocol import PENDING_SUFFIX
from rotation.errors import InvalidValue

# -- durations ------------------------------------------------------------------------------------------
_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^P(?!$)(?:(?P<years>{_NUM})Y)?(?:(?P<months>{_NUM})M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?$"
)
DURATION_EXPECTED = "an ISO 8601 duration of weeks, days, hours, minutes or seconds such as P30D, P1W or PT12H"


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """ISO 8601 duration → timedelta. Years and months are refused: their length varies (28-31 days,
    365-366), and a token lifetime or a grace period must mean the same span every time it is applied."""
    if not isinstance(text, str):
        raise InvalidValue(what, text, DURATION_EXPECTED)
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidValue(what, text, DURATION_EXPECTED)
    if match["years"] or match["months"]:
        raise InvalidValue(
            what,
            text,
            "a fixed-length duration (weeks, days, hours, minutes, seconds): years and "
            "months are not fixed lengths, write P365D or P30D instead",
        )
    try:
        value = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError, OverflowError):
        raise InvalidValue(what, text, DURATION_EXPECTED) from None
    if not isinstance(value, timedelta):  # pragma: no cover - the pattern already refused Y and M
        raise InvalidValue(what, text, DURATION_EXPECTED)
    return value


def format_duration(value: timedelta) -> str:
    """The canonical ISO 8601 form (days, hours, minutes, seconds): `parse_duration` reads it back exactly."""
    if value < timedelta(0):
        raise InvalidValue("duration", value, "a non-negative duration")
    seconds = value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or value.microseconds:
        time += f"{secs}.{value.microseconds:06d}".rstrip("0").rstrip(".") + "S"
    out = "P" + (f"{value.days}D" if value.days else "") + (f"T{time}" if time else "")
    return out if out != "P" else "PT0S"


# -- names ------------------------------------------------------------------------------------------------
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_SLOT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ORGANIZATION = re.compile(r"^(?!-)[a-z0-9-]{1,48}[a-z0-9]$")  # organizationId pattern of the 2022-07-31 spec
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")

SECRET_NAME_MAX = 127


def check_subdomain(value: str, what: str = "subdomain") -> str:
    """An IoT Central subdomain is one DNS label: it becomes `https://<subdomain>.<base domain>`."""
    if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
        raise InvalidValue(
            what,
            value,
            "a DNS label: lowercase letters, digits and hyphens, 1-63 characters, not starting or ending with a hyphen",
        )
    return value


def check_base_domain(value: str, what: str = "base_domain") -> str:
    """The IoT Central DNS zone (azureiotcentral.com, or a sovereign cloud's)."""
    if not isinstance(value, str) or not _HOSTNAME.fullmatch(value):
        raise InvalidValue(what, value, "a lowercase DNS name with at least one dot such as azureiotcentral.com")
    return value


def check_name(value: str, what: str = "name") -> str:
    """App and slot names: they end up in secret names, tags and managed token ids, so keep them plain."""
    if not isinstance(value, str) or not _SLOT.fullmatch(value):
        raise InvalidValue(
            what,
            value,
            "lowercase letters, digits and hyphens ([a-z0-9-]), 1-63 characters, not starting or ending with a hyphen",
        )
    return value


def check_secret_name(value: str, what: str = "secret", *, staged: bool = True) -> str:
    """A Key Vault secret name. For a rotated slot the staging secret `<name>-pending` must fit too."""
    if not isinstance(value, str) or not _SECRET_NAME.fullmatch(value):
        raise InvalidValue(
            what, value, f"a Key Vault secret name: letters, digits and hyphens, 1-{SECRET_NAME_MAX} characters"
        )
    if staged and len(value) + len(PENDING_SUFFIX) > SECRET_NAME_MAX:
        room = SECRET_NAME_MAX - len(PENDING_SUFFIX)
        raise InvalidValue(
            what,
            value,
            f"at most {room} characters ({len(value)} given), so that the staging "
            f"secret '<name>{PENDING_SUFFIX}' fits Key Vault's {SECRET_NAME_MAX}",
        )
    return value


def check_organization(value: str, what: str = "organization") -> str:
    if not isinstance(value, str) or not _ORGANIZATION.fullmatch(value):
        raise InvalidValue(
            what,
            value,
            "an IoT Central organization id: lowercase letters, digits and hyphens, "
            "2-49 characters, not starting with a hyphen nor ending with one",
        )
    return value


# -- managed token ids ------------------------------------------------------------------------------------
MANAGED_PREFIX = "rot-"
_STAMP = "%Y%m%d%H%M%S"
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits
_MANAGED_ID = re.compile(r"^rot-(?P<slot>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)-(?P<ts>\d{14})-[a-z0-9]{4}$")
SLOT_PART_MAX = TOKEN_ID_MAX - len(MANAGED_PREFIX) - len("-yyyymmddHHMMSS-xxxx")  # 16
_HASH_LEN = 4


def managed_slot_part(slot: str) -> str:
    """The slot as it appears in a managed id. Long slot names keep a readable prefix plus 4 hex digits of
    their SHA-256, so the id stays within 40 characters and two long slots sharing a prefix stay apart."""
    check_name(slot, "slot")
    if len(slot) <= SLOT_PART_MAX:
        return slot
    digest = hashlib.sha256(slot.encode()).hexdigest()[:_HASH_LEN]
    prefix = slot[: SLOT_PART_MAX - _HASH_LEN - 1].rstrip("-")
    return f"{prefix}-{digest}"


def new_managed_id(slot: str, created_at: datetime, rng: random.Random) -> str:
    """`rot-<slot>-<yyyymmddHHMMSS>-<4 random [a-z0-9]>`: recognisable as ours, and carrying its creation time
    (UTC) because the API returns none. `created_at` must be timezone-aware."""
    if created_at.tzinfo is None:
        raise InvalidValue("created_at", created_at.isoformat(), "a timezone-aware datetime")
    suffix = "".join(rng.choice(_RANDOM_ALPHABET) for _ in range(4))
    token_id = f"{MANAGED_PREFIX}{managed_slot_part(slot)}-{created_at.astimezone(UTC):{_STAMP}}-{suffix}"
    if len(token_id) > TOKEN_ID_MAX:  # pragma: no cover - managed_slot_part guarantees it
        raise InvalidValue("managed token id", token_id, f"at most {TOKEN_ID_MAX} characters")
    return check_token_id(token_id, "managed token id")


def parse_managed_id(token_id: str) -> tuple[str, datetime] | None:
    """(slot part, created_at in UTC) of a managed id, or None for anything else (unmanaged tokens)."""
    match = _MANAGED_ID.fullmatch(token_id) if isinstance(token_id, str) else None
    if match is None or len(token_id) > TOKEN_ID_MAX:
        return None
    try:
        created = datetime.strptime(match["ts"], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return match["slot"], created


# -- URLs -------------------------------------------------------------------------------------------------
def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(value: str, what: str = "base_url") -> str:
    """HTTPS, except http to loopback (the sandbox's emulators); no userinfo, query or fragment, since a base
    URL gets paths appended and must never carry a credential. Returned without a trailing slash."""
    if not isinstance(value, str):
        raise InvalidValue(what, value, "an https:// URL")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise InvalidValue(what, value, "a URL such as https://host[:port][/path]") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidValue(what, value, "an https:// URL such as https://host[:port][/path]")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise InvalidValue(what, value, "an https:// URL (http:// only to loopback: 127.0.0.0/8, ::1, localhost)")
    if "@" in parts.netloc:
        raise InvalidValue(what, value, "a URL without user or password (credentials never go in a URL)")
    if parts.query or parts.fragment or value.rstrip().endswith(("?", "#")):
        raise InvalidValue(what, value, "a base URL without query or fragment")
    if any(c.isspace() for c in value):
        raise InvalidValue(what, value, "a URL without whitespace")
    return value.rstrip("/")


API_PATH_MAX = 1024
_API_PATH_CHARS = re.compile(r"^[A-Za-z0-9/_.~:@%-]*$")  # unreserved, '/', ':', '@' and %XX escapes
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
API_PATH_EXPECTED = "a path under /api/ such as /api/devices"


def check_api_path(value: str, what: str = "path") -> str:
    """A path that a token is sent to, `GET <base_url><path>`: it must stay under the app's `/api/`. So no
    `.`/`..` segment (a client or a server normalises `/api/../x` to `/x`), also not percent-encoded
    (`%2e%2E`, which servers decode before normalising), no `//`, backslash, query, fragment, whitespace or
    control character, and only characters that need no escaping in a URL path (decoded once, the path
    must still be all that: no escape may hide a `/`, `\\`, `?`, `#` or another escape)."""
    if not isinstance(value, str):
        raise InvalidValue(what, value, API_PATH_EXPECTED)
    if not value.startswith("/api/"):
        raise InvalidValue(what, value, f"{API_PATH_EXPECTED}: starting with /api/")
    if len(value) > API_PATH_MAX:
        raise InvalidValue(what, value, f"{API_PATH_EXPECTED}: at most {API_PATH_MAX} characters")
    if not _API_PATH_CHARS.fullmatch(value) or _PERCENT.search(value):
        raise InvalidValue(
            what,
            value,
            f"{API_PATH_EXPECTED}: only A-Z a-z 0-9 / _ . ~ : @ - and %XX escapes "
            "(no whitespace, control characters, backslash, '?' or '#')",
        )
    try:
        decoded = unquote(value, errors="strict")
    except UnicodeDecodeError:
        decoded = "%"  # an escape of bytes that are not UTF-8 text: refused below
    if decoded.count("/") != value.count("/") or not _API_PATH_CHARS.fullmatch(decoded) or "%" in decoded:
        raise InvalidValue(
            what, value, f"{API_PATH_EXPECTED}: no escape of '/', '%' or of a character that is refused unescaped"
        )
    if "//" in value:
        raise InvalidValue(what, value, f"{API_PATH_EXPECTED}: no empty segment ('//')")
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise InvalidValue(what, value, f"{API_PATH_EXPECTED}: no '.' or '..' segment, also not percent-encoded (%2e)")
    return value
