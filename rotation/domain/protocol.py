"""The Key Vault layout vocabulary of the rotation protocol (docs/protocol.md, "Key Vault layout"), in one
home: tag names, stage values, content types, and the builders of every tag set the service writes.

Key Vault replaces a version's tags as a whole on update, so every step writes the version's whole tag
set with the new stage; the builders below keep the rest. Readers (planner, audit, timeline) and writers
(executor, admin) import these names from here, so a tag cannot be spelt two ways.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # model imports this module's names: the type only, at check time
    from rotation.domain.model import RoleAssignment

# -- tag names --------------------------------------------------------------------------------------------
TAG_MANAGED_BY = "managed-by"
TAG_TOKEN_ID = "token-id"  # noqa: S105 -- a tag name, not a secret
TAG_APP = "app"
TAG_SLOT = "slot"
TAG_ROLES = "roles"
TAG_STAGE = "stage"
TAG_SUPERSEDED_AT = "superseded-at"
TAG_REVOKED_AT = "revoked-at"
TAG_REQUESTED_EXPIRY = "requested-expiry"
TAG_IMPORTED_AT = "imported-at"
TAG_PROVIDER = "provider"

# -- tag values -------------------------------------------------------------------------------------------
MANAGED_BY = "rotation"
PROVIDER_IOTCENTRAL = "iotcentral"
PROVIDER_IOTTLY = "iottly"

# stages of a version of the slot's secret `N`
STAGE_CURRENT = "current"
STAGE_PREVIOUS = "previous"
STAGE_REVOKED = "revoked"
# stages of a version of the staging secret `N-pending`
STAGE_PENDING = "pending"
STAGE_PROMOTED = "promoted"
STAGE_ABANDONED = "abandoned"

# -- content types and names --------------------------------------------------------------------------------
CONTENT_TYPE_API_TOKEN = "application/vnd.iotcentral.apitoken"  # noqa: S105 -- a content type, not a secret
CONTENT_TYPE_IOTTLY_KEY = "application/vnd.iottly.apikey"
PENDING_SUFFIX = "-pending"


def pending_secret_name(secret: str) -> str:
    """The staging secret of slot secret `N`: `N-pending`, read only by the service."""
    return f"{secret}{PENDING_SUFFIX}"


def tag_time(when: datetime) -> str:
    """Times in tags: ISO 8601 to the second (what `SecretVersion.superseded_at` reads back)."""
    return when.isoformat(timespec="seconds")


TAG_VALUE_LIMIT = 256  # Key Vault refuses a longer tag value (400 BadParameter; emulators/FIDELITY.md)
ROLES_DIGEST_PREFIX = "sha256:"


def roles_tag(roles: Iterable[RoleAssignment]) -> str:
    """The `roles` tag: the token's role assignments, sorted, comma separated (`role[@organization]`); past
    the tag value limit, `sha256:<hex>` of that text, so that a slot with many organizations still stores.
    The tag is informational (operators, portal): planner and audit compare roles from the app's token
    listing, never from this tag, so the digest form loses nothing they decide on."""
    text = ",".join(r.label() for r in sorted(roles))
    if len(text) <= TAG_VALUE_LIMIT:
        return text
    return ROLES_DIGEST_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- tag builders ---------------------------------------------------------------------------------------------
def token_tags(
    *,
    app: str,
    slot: str,
    token_id: str,
    roles: Iterable[RoleAssignment],
    stage: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole tag set of a new version holding an IoT Central API token (staged, promoted or stored)."""
    return {
        TAG_MANAGED_BY: MANAGED_BY,
        TAG_PROVIDER: PROVIDER_IOTCENTRAL,
        TAG_APP: app,
        TAG_SLOT: slot,
        TAG_TOKEN_ID: token_id,
        TAG_ROLES: roles_tag(roles),
        TAG_STAGE: stage,
        **(extra or {}),
    }


def imported_key_tags(*, app: str, slot: str, at: datetime) -> dict[str, str]:
    """The tag set of an iottly key imported by an operator: current at once (iottly cannot mint)."""
    return {
        TAG_MANAGED_BY: MANAGED_BY,
        TAG_PROVIDER: PROVIDER_IOTTLY,
        TAG_APP: app,
        TAG_SLOT: slot,
        TAG_STAGE: STAGE_CURRENT,
        TAG_IMPORTED_AT: tag_time(at),
    }


def restaged(tags: Mapping[str, str], stage: str, **extra: str) -> dict[str, str]:
    """A version's tags with a new stage: tags are replaced as a whole by Key Vault, so keep the rest."""
    return {**tags, TAG_STAGE: stage, **extra}


def superseded_tags(tags: Mapping[str, str], at: datetime) -> dict[str, str]:
    """A current version that a newer one replaced at `at`: `previous`, its grace counted from `at`."""
    return restaged(tags, STAGE_PREVIOUS, **{TAG_SUPERSEDED_AT: tag_time(at)})


def revoked_tags(tags: Mapping[str, str], at: datetime) -> dict[str, str]:
    """A version whose token was deleted (or retired) at `at`; the version is disabled with it."""
    return restaged(tags, STAGE_REVOKED, **{TAG_REVOKED_AT: tag_time(at)})
