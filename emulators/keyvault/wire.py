"""The JSON of the secrets API (SecretBundle, SecretItem, DeletedSecret*, list pages) in both directions.

Rendering follows what the real service sends: times as Unix seconds, `nbf`/`exp`/`contentType`/`tags`
only when set, identifiers as absolute URLs of this vault, values only where the service returns them
(set and get, never lists, updates, deletes or recoveries), and `nextLink` only when a page follows --
the spec types it as a string, so a `null` would not conform. Parsing rejects wrong types with the
service's BadParameter 400 instead of failing later.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request

from emulators.keyvault import errors
from emulators.keyvault.store import SecretSnapshot, SecretVersion, VersionChanges

Json = dict[str, Any]


@dataclass(frozen=True)
class VaultView:
    """What every rendered document needs to know about the vault answering."""

    base_url: str
    recovery_level: str
    recoverable_days: int


def _unix(when: datetime) -> int:
    return int(when.timestamp())


def _attributes(view: VaultView, record: SecretVersion) -> Json:
    attributes: Json = {"enabled": record.enabled}
    if record.not_before is not None:
        attributes["nbf"] = _unix(record.not_before)
    if record.expires_on is not None:
        attributes["exp"] = _unix(record.expires_on)
    attributes |= {
        "created": _unix(record.created_on),
        "updated": _unix(record.updated_on),
        "recoveryLevel": view.recovery_level,
        "recoverableDays": view.recoverable_days,
    }
    return attributes


def _common(view: VaultView, record: SecretVersion, ident: str) -> Json:
    body: Json = {"id": ident, "attributes": _attributes(view, record)}
    if record.content_type is not None:
        body["contentType"] = record.content_type
    if record.tags:
        body["tags"] = dict(record.tags)
    return body


def secret_id(view: VaultView, record: SecretVersion) -> str:
    return f"{view.base_url}/secrets/{record.name}/{record.version}"


def bundle(view: VaultView, record: SecretVersion, *, with_value: bool) -> Json:
    body = _common(view, record, secret_id(view, record))
    return {"value": record.value, **body} if with_value else body


def item(view: VaultView, record: SecretVersion, *, versioned: bool) -> Json:
    ident = secret_id(view, record) if versioned else f"{view.base_url}/secrets/{record.name}"
    return _common(view, record, ident)


def _deletion(view: VaultView, secret: SecretSnapshot) -> Json:
    if secret.deleted_on is None or secret.scheduled_purge is None:
        raise ValueError(f"secret {secret.name!r} is not deleted")
    return {
        "recoveryId": f"{view.base_url}/deletedsecrets/{secret.name}",
        "deletedDate": _unix(secret.deleted_on),
        "scheduledPurgeDate": _unix(secret.scheduled_purge),
    }


def deleted_bundle(view: VaultView, secret: SecretSnapshot) -> Json:
    return {**_deletion(view, secret), **bundle(view, secret.latest, with_value=False)}


def deleted_item(view: VaultView, secret: SecretSnapshot) -> Json:
    return {**_deletion(view, secret), **item(view, secret.latest, versioned=False)}


# -- paging ------------------------------------------------------------------------------------------------
def _encode_marker(marker: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"NextMarker": marker}).encode()).decode().rstrip("=")


def _decode_marker(token: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return str(decoded["NextMarker"])
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise errors.bad_parameter(f"The $skiptoken is not valid: {token}") from None


def page_size(request: Request, default: int) -> int:
    raw = request.args.get("maxresults")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 25:
        raise errors.bad_parameter(f"invalid maxresults: got {raw!r}, expected an integer from 1 to 25")
    return int(raw)


def page(request: Request, view: VaultView, keyed: list[tuple[str, Json]], default_size: int) -> Json:
    """One page of `keyed` (sort key, document), resuming after the `$skiptoken` marker.

    The marker names the last key served rather than an offset, so that secrets created or deleted
    between two pages neither repeat nor vanish from the rest of the listing.
    """
    size = page_size(request, default_size)
    token = request.args.get("$skiptoken")
    if token:
        marker = _decode_marker(token)
        keyed = [(key, doc) for key, doc in keyed if key > marker]
    body: Json = {"value": [doc for _, doc in keyed[:size]]}
    if len(keyed) > size:
        api_version = request.args.get("api-version", "")
        next_token = _encode_marker(keyed[size - 1][0])
        body["nextLink"] = (
            f"{view.base_url}{request.path}?api-version={api_version}&$skiptoken={next_token}&maxresults={size}"
        )
    return body


# -- request bodies -----------------------------------------------------------------------------------------
def read_body(request: Request) -> Json:
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise errors.bad_parameter("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise errors.bad_parameter("The request body must be a JSON object.")
    return body


def _time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.bad_parameter(
            f"Property attributes.{field} has invalid value: got {value!r}, expected Unix seconds"
        )
    return datetime.fromtimestamp(value, UTC)


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise errors.bad_parameter(f"Property tags has invalid value: got {value!r}, expected string values")
    return {str(k): v for k, v in value.items()}


def changes(body: Json) -> VersionChanges:
    """The properties a set or update request carries (only those present)."""
    found: VersionChanges = {}
    if "contentType" in body:
        content_type = body["contentType"]
        if content_type is not None and not isinstance(content_type, str):
            raise errors.bad_parameter(f"Property contentType has invalid value: got {content_type!r}")
        found["content_type"] = content_type
    if body.get("tags") is not None:
        found["tags"] = _tags(body["tags"])
    attributes = body.get("attributes")
    if attributes is None:
        return found
    if not isinstance(attributes, dict):
        raise errors.bad_parameter(f"Property attributes has invalid value: got {attributes!r}")
    if attributes.get("enabled") is not None:
        if not isinstance(attributes["enabled"], bool):
            raise errors.bad_parameter(f"Property attributes.enabled has invalid value: {attributes['enabled']!r}")
        found["enabled"] = attributes["enabled"]
    if "nbf" in attributes:
        found["not_before"] = _time(attributes["nbf"], "nbf")
    if "exp" in attributes:
        found["expires_on"] = _time(attributes["exp"], "exp")
    return found


def secret_value(body: Json) -> str:
    value = body.get("value")
    if not isinstance(value, str):
        raise errors.bad_parameter("Property value is required and must be a string.")
    return value
