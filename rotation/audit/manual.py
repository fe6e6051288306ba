"""Findings from the manual-action paper trail (OPS-002): every `revoke-now`, `rotate --now`, `import` and
`bootstrap` of the audited apps within `rotation.domain.events.WINDOW`, one MANUAL finding each (a person
reviews who did what and why), so every report format carries them without a format of its own. An event
store that cannot be read fails closed (AUDIT-001)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rotation.audit.findings import Finding, when
from rotation.domain.events import ManualEvent


def evidence(event: ManualEvent) -> dict[str, str]:
    """Who (every identity field known), what, why, when and how it ended; ids only, never a value."""
    who = event.who
    fields = {
        "who": who.label(),
        "object_id": who.object_id,
        "upn": who.upn,
        "app_id": who.app_id,
        "tenant_id": who.tenant_id,
        "os_user": who.os_user,
        "via": who.via,
        "identity_error": who.error,
        "action": event.action,
        "reason": event.reason,
        "when": when(event.at),
        "slot": event.slot or "",
        "token_id": event.token_id or "",
        "outcome": event.outcome,
        "detail": event.detail,
        "event_id": event.id,
    }
    return {k: v for k, v in fields.items() if v}


def manual_findings(events: Sequence[ManualEvent] | None, error: str | None) -> Iterator[Finding]:
    """`events` None: not gathered (nothing to judge); an unreadable store is AUDIT-001 FAIL."""
    if error is not None:
        yield Finding(
            "AUDIT-001",
            "FAIL",
            "-",
            "app",
            "manual-events",
            "could not read the manual-action events",
            {"errors": error},
        )
    for event in events or ():
        target = f" token {event.token_id}" if event.token_id else ""
        slot = f" slot {event.slot}" if event.slot else ""
        yield Finding(
            "OPS-002",
            "MANUAL",
            event.app,
            "manual-action",
            f"events/{event.id}",
            f"{event.action}{slot}{target} by {event.who.label()} ({event.outcome}): {event.reason}",
            evidence(event),
        )
