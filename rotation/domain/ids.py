"""Token ids and GUIDs: the one strict check of each. A token id goes into `/api/apiTokens/{id}` (create,
delete, revoke-now), so every path that builds such a URL uses `check_token_id` here, never a looser copy."""

from __future__ import annotations

import re

from rotation.errors import InvalidValue

TOKEN_ID_MAX = 40
_TOKEN_ID = re.compile(r"[A-Za-z0-9_.~-]{1,40}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def check_token_id(value: str, what: str = "token id") -> str:
    """Only unreserved URL characters (fullmatch: `$` would let a trailing newline through), never `.`/`..`
    (a client would normalise those path segments away and hit another resource)."""
    if not isinstance(value, str) or not _TOKEN_ID.fullmatch(value) or set(value) == {"."}:
        raise InvalidValue(
            what, value, f"1-{TOKEN_ID_MAX} characters from A-Z a-z 0-9 _ . ~ - (safe in a URL path; not only dots)"
        )
    return value


def is_guid(value: str) -> bool:
    """A GUID in its 8-4-4-4-12 hex form (role ids, object and tenant ids), nothing around it."""
    return isinstance(value, str) and _GUID.fullmatch(value) is not None
