"""Findings about the fan-out queue (OPS-001 and its read failure): the audit's view of work that failed
on every retry, judged from what the audit job peeked in the poison queue."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rotation.audit.findings import Finding

if TYPE_CHECKING:
    from rotation.audit.evaluate import PoisonNote


def fanout_findings(
    poison: Sequence[PoisonNote] | None, poison_error: str | None, declared: Sequence[str]
) -> Iterator[Finding]:
    """`poison` None: no fan-out queue configured, nothing to judge; an unreadable queue fails closed."""
    if poison_error is not None:
        yield Finding(
            "AUDIT-001",
            "FAIL",
            "-",
            "app",
            "poison-queue",
            "could not read the fan-out poison queue",
            {"errors": poison_error},
        )
    if poison is None:
        return
    poisoned = {p.app: p for p in poison}
    for name in [*declared, *sorted(set(poisoned) - set(declared))]:
        note = poisoned.get(name)
        if note is None:
            yield Finding("OPS-001", "PASS", name, "app", "fanout", "no message in the poison queue", {})
        else:
            yield Finding(
                "OPS-001",
                "FAIL",
                name,
                "app",
                "fanout",
                f"{note.job} failed on every retry ({note.count} message(s) in the poison queue)",
                {"job": note.job, "messages": str(note.count)},
            )
