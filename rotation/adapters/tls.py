"""A certificate the client does not trust is a setup problem, not a flaky network: it is named once, with
the setting that fixes it, instead of "got ConnectError ... after 5 attempts" (and it is not retried)."""

from __future__ import annotations

import re
import ssl

HINT = "certificate verify failed for host {host}: set ROTATION_CA_BUNDLE to the CA file?"
PATTERN = re.compile(r"certificate verify failed for host \S+: set ROTATION_CA_BUNDLE to the CA file\?")
_HOST_IN_TEXT = re.compile(r"host='([^']+)', port=(\d+)")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        pending += [
            current.__cause__,
            current.__context__,
            *(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)),
        ]
    return seen


def certificate_hint(exc: BaseException, host: str | None = None) -> str | None:
    """The one-line cause when `exc` (or what it was raised from) is a failed certificate verification;
    `host` (host:port) when the caller knows it, else found in the error text."""
    chain = _chain(exc)
    if not any(isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e) for e in chain):
        return None
    if host is None:
        found = next((m for e in chain if (m := _HOST_IN_TEXT.search(str(e)))), None)
        host = f"{found.group(1)}:{found.group(2)}" if found else "?"
    return HINT.format(host=host)
