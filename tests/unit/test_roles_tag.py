"""The `roles` tag always fits Key Vault's tag value limit and stays the plain text whenever that fits."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from rotation.domain.model import RoleAssignment
from rotation.domain.protocol import ROLES_DIGEST_PREFIX, TAG_VALUE_LIMIT, roles_tag

ASSIGNMENTS = st.frozensets(
    st.builds(
        RoleAssignment,
        st.uuids().map(str),
        st.none() | st.from_regex(r"[a-z0-9][a-z0-9-]{0,46}", fullmatch=True),
    ),
    max_size=20,
)


@given(ASSIGNMENTS)
def test_the_roles_tag_fits_and_is_plain_or_the_digest_of_the_plain_text(roles: frozenset[RoleAssignment]) -> None:
    text = ",".join(r.label() for r in sorted(roles))
    tag = roles_tag(roles)
    assert len(tag) <= TAG_VALUE_LIMIT
    if len(text) <= TAG_VALUE_LIMIT:
        assert tag == text
    else:
        assert tag == ROLES_DIGEST_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


@given(ASSIGNMENTS)
def test_the_roles_tag_does_not_depend_on_the_listing_order(roles: frozenset[RoleAssignment]) -> None:
    assert roles_tag(sorted(roles, reverse=True)) == roles_tag(roles)
