"""`Secret`: a token value that cannot leak by accident.

Its `repr`/`str`/format show `Secret(****)`; it refuses pickling and JSON encoding by default; only
`.reveal()` returns the value, and only adapters (Key Vault, IoT Central, iottly) call it, at the moment
the value goes on the wire. Pattern from sigstore-python.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

REDACTED = "Secret(****)"


class Secret:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise TypeError("Secret needs a non-empty str value")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __len__(self) -> int:
        return len(self._value)
