"""The pure audit's two hot helpers, memoised for fleets of 100,000 tokens (issue 14): the same results as
`findings.when` and `findings.sort_key`, a fraction of their cost per call."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from rotation.audit.controls import CONTROLS, severity_rank
from rotation.audit.findings import Finding
from rotation.audit.findings import when as _format_when


@lru_cache(maxsize=1 << 16)
def _when_at(moment: datetime, offset: timedelta | None) -> str:
    return _format_when(moment)


def when(moment: datetime | None) -> str:
    """`findings.when`, memoised: a token's expiry and creation are formatted several times each. The key
    holds the UTC offset, because equal instants in two zones compare equal but print differently."""
    return _format_when(moment) if moment is None else _when_at(moment, moment.utcoffset())


_RANK = {cid: severity_rank(control.severity) for cid, control in CONTROLS.items()}


def fast_sort_key(finding: Finding) -> tuple[int, int, str, str]:
    """`findings.sort_key` with the severity rank looked up once per control (the same tuple)."""
    rank = _RANK.get(finding.control_id)
    if rank is None:
        rank = severity_rank(finding.severity)
    return (0 if finding.open else 1, rank, finding.app, finding.uid)
