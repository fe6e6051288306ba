"""A stand-in for Azure AD's token signing: HS256 JWTs with a sandbox key.

The identity emulator issues them; the IoT Central and Key Vault emulators verify signature, audience
and expiry against the shared emulated clock, exactly where Azure would.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ISSUER_TEMPLATE = "https://sts.windows.net/{tid}/"


@dataclass(frozen=True)
class Claims:
    oid: str
    tid: str
    aud: str
    appid: str
    exp: int


class TokenRejectedError(Exception):
    """Why a bearer token was refused; the message goes into the 401 body."""


def _normalise_audience(aud: str) -> str:
    return aud.rstrip("/").removesuffix("/.default")


class SandboxAuthority:
    def __init__(self, key: bytes | None = None, kid: str = "sandbox-key-1") -> None:
        self.key = key or secrets.token_bytes(32)
        self.kid = kid

    def issue(
        self, *, audience: str, oid: str, tid: str, appid: str, now: datetime, lifetime: timedelta = timedelta(hours=1)
    ) -> tuple[str, int]:
        """A signed JWT and its `exp` (seconds since the epoch, emulated time)."""
        iat = int(now.timestamp())
        exp = int((now + lifetime).timestamp())
        claims = {
            "aud": _normalise_audience(audience),
            "iss": ISSUER_TEMPLATE.format(tid=tid),
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "oid": oid,
            "sub": oid,
            "tid": tid,
            "appid": appid,
            "idtyp": "app",
            "uti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self.key, algorithm="HS256", headers={"kid": self.kid})
        return token, exp

    def verify(self, token: str, *, audience: str, now: datetime) -> Claims:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejectedError(f"bearer token is not a valid JWT from this authority ({exc})") from None
        aud = str(claims.get("aud", ""))
        if _normalise_audience(aud) != _normalise_audience(audience):
            raise TokenRejectedError(f"bearer token audience: got {aud!r}, expected {audience!r}")
        exp = int(claims.get("exp", 0))
        if exp <= int(now.timestamp()):
            raise TokenRejectedError("bearer token has expired")
        return Claims(
            oid=str(claims.get("oid", "")),
            tid=str(claims.get("tid", "")),
            aud=aud,
            appid=str(claims.get("appid", "")),
            exp=exp,
        )
