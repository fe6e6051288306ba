"""The in-memory IoT Central application (`rotation.engine.memory`): unique token ids (409 on an existing
id), delete of a missing id is a 404 (False), a value authenticates only while its token exists and has
not expired, listings in creation order; knobs make the next listing lie or fail."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rotation.domain.ids import check_token_id
from rotation.domain.model import AppToken, RoleAssignment
from rotation.domain.secret import Secret
from rotation.engine.memory_clock import ManualClock, rng_copy
from rotation.errors import IncompleteListingError, ServiceError, ValidationError, VerificationError


@dataclass(frozen=True)
class _Token:
    info: AppToken
    value: str = field(repr=False)


@dataclass(frozen=True)
class Deletion:
    """A token deleted through the port (by the service), at the clock's time."""

    token_id: str
    at: datetime


@dataclass
class InMemoryIoTCentral:
    """One application's API tokens and roles. People act through `add_token`/`remove_token` (not recorded
    as the service's deletions); `delete_observers` see each token the service deletes, before it goes."""

    base_url: str
    clock: ManualClock
    roles: dict[str, str] = field(default_factory=dict)  # role id -> display name
    rng: random.Random = field(default_factory=random.SystemRandom)
    delete_observers: list[Callable[[AppToken], None]] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _omit_next: set[str] = field(default_factory=set)
    _fail_next: bool = False
    verify_calls: int = 0

    # -- knobs -------------------------------------------------------------------------------------------
    def omit_from_next_listing(self, token_id: str) -> None:
        """The next `list_tokens` answers without this token (a listing that lies)."""
        self._omit_next.add(token_id)

    def fail_next_listing(self) -> None:
        """The next `list_tokens` raises `IncompleteListingError` (a page that could not be read)."""
        self._fail_next = True

    # -- what people do in the web UI ----------------------------------------------------------------------
    def add_token(self, token_id: str, roles: frozenset[RoleAssignment], expiry: datetime) -> Secret:
        return self.create_token(token_id, roles, expiry)[1]

    def remove_token(self, token_id: str) -> bool:
        return self._tokens.pop(token_id, None) is not None

    def tokens(self) -> dict[str, AppToken]:
        """Every token as it really is (the truth a lying listing hides)."""
        return {token_id: token.info for token_id, token in self._tokens.items()}

    def copy(self, clock: ManualClock) -> InMemoryIoTCentral:
        """An independent twin on `clock` (same tokens and values, no observers, no pending knobs)."""
        return InMemoryIoTCentral(
            self.base_url, clock, dict(self.roles), rng_copy(self.rng), _tokens=dict(self._tokens)
        )

    # -- the port ------------------------------------------------------------------------------------------
    def list_tokens(self) -> list[AppToken]:
        omitted, self._omit_next = self._omit_next, set()
        if self._fail_next:
            self._fail_next = False
            raise IncompleteListingError(
                f"list API tokens of {self.base_url}: listing incomplete (HTTP 500)", status=500
            )
        return [token.info for token_id, token in self._tokens.items() if token_id not in omitted]

    def create_token(
        self, token_id: str, roles: frozenset[RoleAssignment], expiry: datetime
    ) -> tuple[AppToken, Secret]:
        check_token_id(token_id)
        now = self.clock.now()
        if token_id in self._tokens:
            raise ServiceError(
                f"create API token {token_id}: got HTTP 409 Conflict, expected a new id", status=409, code="Conflict"
            )
        unknown = sorted(r.role for r in roles if r.role not in self.roles)
        if not roles or unknown:
            raise ServiceError(
                f"create API token {token_id}: got HTTP 400 for roles {unknown or 'none'}, expected roles of the app",
                status=400,
                code="BadRequest",
            )
        if expiry <= now:
            raise ServiceError(
                f"create API token {token_id}: got HTTP 400 for expiry {expiry.isoformat()}, "
                f"expected a time after {now.isoformat()}",
                status=400,
                code="BadRequest",
            )
        expiry = expiry.astimezone(UTC).replace(microsecond=expiry.microsecond // 1000 * 1000)
        info = AppToken(token_id, frozenset(roles), expiry)
        signature = base64.b64encode(self.rng.randbytes(32)).decode()
        value = f"SharedAccessSignature sr={self.base_url}&sig={signature}&skn={token_id}&se={expiry.timestamp():.0f}"
        self._tokens[token_id] = _Token(info, value)
        return info, Secret(value)

    def delete_token(self, token_id: str) -> bool:
        check_token_id(token_id)
        token = self._tokens.get(token_id)
        if token is None:
            return False
        for observer in self.delete_observers:
            observer(token.info)
        del self._tokens[token_id]
        self.deletions.append(Deletion(token_id, self.clock.now()))
        return True

    def list_roles(self) -> dict[str, str]:
        return dict(self.roles)

    def verify(self, token: Secret, method: str, path: str) -> None:
        """Authenticates like the service: the value must be a live token's (exists, not expired)."""
        self.verify_calls += 1
        if not path.startswith("/api/"):
            raise ValidationError(f"verify path: got {path!r}, expected a path under /api/")
        value = token.reveal()
        now = self.clock.now()
        live = next((t for t in self._tokens.values() if t.value == value), None)
        if live is None or (live.info.expiry is not None and live.info.expiry <= now):
            raise VerificationError(f"verify with {method} {path}: got HTTP 401, expected 200")
